/**
 * What most commands start with: the keyring unlocked, the local backend
 * opened, the catalog, and a volume by name.
 */
import { join } from 'node:path';
import { BucketProvider } from '../bucket/index.js';
import { unwrapKey } from '../crypto/index.js';
import {
  Backends,
  type CatalogEntry,
  Catalogs,
  PeerProvider,
  type StoreProvider,
  parseBackendSpec,
  resolveHome,
  unlockKeyring,
} from '../cluster/index.js';
import { type OpenOptions, Volume } from '../volume/index.js';
import { readPassphrase } from './passphrase.js';

export interface Session {
  home: string;
  masterKey: Uint8Array;
  backends: Backends;
  catalogs: Catalogs;
  close(): Promise<void>;
}

export async function openSession(passphraseFile?: string): Promise<Session> {
  const home = resolveHome();
  const passphrase = await readPassphrase({
    file: passphraseFile,
    envVar: 'CAIRN_PASSPHRASE',
    flag: '--passphrase-file',
    prompt: 'Passphrase: ',
  });
  const keyring = await unlockKeyring(home, passphrase);
  return sessionFor(home, keyring.masterKey);
}

/** A session for a keyring already unlocked (tests and long-running agents). */
export function sessionFor(home: string, masterKey: Uint8Array): Session {
  const providers: Partial<Record<'peers' | 'bucket', StoreProvider>> = {
    peers: new PeerProvider(home, masterKey),
    bucket: new BucketProvider(home, masterKey),
  };
  const backends = new Backends(home, providers);
  return {
    home,
    masterKey,
    backends,
    catalogs: new Catalogs(backends, masterKey),
    close: () => backends.close(),
  };
}

/** Runs `fn` in a session that is closed afterwards, whatever happens. */
export async function withSession<T>(flags: { passphraseFile?: string }, fn: (s: Session) => Promise<T>): Promise<T> {
  const session = await openSession(flags.passphraseFile);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

/**
 * The volume opened on its own backend. Its journal goes under `journalRoot`
 * (default $CAIRN_HOME/volumes): node agents sharing a home keep their own.
 */
export async function openVolume(
  session: Session,
  entry: CatalogEntry,
  options: Omit<OpenOptions, 'journalDir'> & { journalRoot?: string },
): Promise<Volume> {
  const id = new Uint8Array(Buffer.from(entry.id, 'hex'));
  const key = unwrapKey(session.masterKey, new Uint8Array(Buffer.from(entry.wrappedKey, 'base64')), id);
  const { journalRoot = join(session.home, 'volumes'), ...open } = options;
  return Volume.open(
    { id, key, k: entry.k, m: entry.m, blockSize: entry.blockSize },
    await session.backends.open(parseBackendSpec(entry.backend), entry.k + entry.m),
    { ...open, journalDir: join(journalRoot, entry.id, 'journal') },
  );
}
