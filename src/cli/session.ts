/**
 * What most commands start with: the keyring unlocked, the local backend
 * opened, the catalog, and a volume by name.
 */
import { join } from 'node:path';
import { unwrapKey } from '../crypto/index.js';
import { CATALOG_STORES, Catalog, type CatalogEntry, closeBackend, localBackend, resolveHome, unlockKeyring } from '../cluster/index.js';
import { type Backend, type OpenOptions, Volume } from '../volume/index.js';
import { readPassphrase } from './passphrase.js';

export interface Session {
  home: string;
  masterKey: Uint8Array;
  backend: Backend;
  catalog: Catalog;
  close(): Promise<void>;
}

export async function openSession(passphraseFile?: string, stores = CATALOG_STORES): Promise<Session> {
  const home = resolveHome();
  const passphrase = await readPassphrase({
    file: passphraseFile,
    envVar: 'CAIRN_PASSPHRASE',
    flag: '--passphrase-file',
    prompt: 'Passphrase: ',
  });
  const keyring = await unlockKeyring(home, passphrase);
  const backend = await localBackend(home, Math.max(stores, CATALOG_STORES));
  return {
    home,
    masterKey: keyring.masterKey,
    backend,
    catalog: new Catalog(backend, keyring.masterKey),
    close: () => closeBackend(backend),
  };
}

/** The volume's own backend (its first n stores) and the volume opened on it. */
export async function openVolume(
  session: Session,
  entry: CatalogEntry,
  options: Omit<OpenOptions, 'journalDir'>,
): Promise<{ volume: Volume; close: () => Promise<void> }> {
  const id = new Uint8Array(Buffer.from(entry.id, 'hex'));
  const key = unwrapKey(session.masterKey, new Uint8Array(Buffer.from(entry.wrappedKey, 'base64')), id);
  const backend = await localBackend(session.home, entry.k + entry.m);
  try {
    const volume = await Volume.open(
      { id, key, k: entry.k, m: entry.m, blockSize: entry.blockSize },
      backend,
      { ...options, journalDir: join(session.home, 'volumes', entry.id, 'journal') },
    );
    return {
      volume,
      close: async () => {
        try {
          await volume.close();
        } finally {
          await closeBackend(backend);
        }
      },
    };
  } catch (err) {
    await closeBackend(backend);
    throw err;
  }
}
