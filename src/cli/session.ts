/**
 * What most commands start with: the keyring unlocked, the local backend
 * opened, the catalog, and a volume by name.
 */
import { join } from 'node:path';
import { unwrapKey } from '../crypto/index.js';
import {
  Backends,
  type CatalogEntry,
  Catalogs,
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
  const providers: Partial<Record<'peers' | 'bucket', StoreProvider>> = {};
  const backends = new Backends(home, providers);
  return {
    home,
    masterKey: keyring.masterKey,
    backends,
    catalogs: new Catalogs(backends, keyring.masterKey),
    close: () => backends.close(),
  };
}

/** The volume opened on its own backend. */
export async function openVolume(
  session: Session,
  entry: CatalogEntry,
  options: Omit<OpenOptions, 'journalDir'>,
): Promise<Volume> {
  const id = new Uint8Array(Buffer.from(entry.id, 'hex'));
  const key = unwrapKey(session.masterKey, new Uint8Array(Buffer.from(entry.wrappedKey, 'base64')), id);
  return Volume.open(
    { id, key, k: entry.k, m: entry.m, blockSize: entry.blockSize },
    await session.backends.open(parseBackendSpec(entry.backend), entry.k + entry.m),
    { ...options, journalDir: join(session.home, 'volumes', entry.id, 'journal') },
  );
}
