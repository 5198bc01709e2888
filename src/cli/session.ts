/**
 * What most commands start with: the keyring unlocked, the local backend
 * opened, the catalog, and a volume by name.
 */
import { join } from 'node:path';
import { unwrapKey } from '../crypto/index.js';
import { CATALOG_STORES, Catalog, type CatalogEntry, LocalStores, resolveHome, unlockKeyring } from '../cluster/index.js';
import { type OpenOptions, Volume } from '../volume/index.js';
import { readPassphrase } from './passphrase.js';

export interface Session {
  home: string;
  masterKey: Uint8Array;
  stores: LocalStores;
  catalog: Catalog;
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
  const stores = new LocalStores(home);
  return {
    home,
    masterKey: keyring.masterKey,
    stores,
    catalog: new Catalog(await stores.backend(CATALOG_STORES), keyring.masterKey),
    close: () => stores.close(),
  };
}

/** The volume opened on its own backend (the session's first n stores). */
export async function openVolume(
  session: Session,
  entry: CatalogEntry,
  options: Omit<OpenOptions, 'journalDir'>,
): Promise<Volume> {
  const id = new Uint8Array(Buffer.from(entry.id, 'hex'));
  const key = unwrapKey(session.masterKey, new Uint8Array(Buffer.from(entry.wrappedKey, 'base64')), id);
  return Volume.open(
    { id, key, k: entry.k, m: entry.m, blockSize: entry.blockSize },
    await session.stores.backend(entry.k + entry.m),
    { ...options, journalDir: join(session.home, 'volumes', entry.id, 'journal') },
  );
}
