/**
 * $CAIRN_HOME (default ~/.cairn): this machine's Cairn state. Today it holds
 * the keyring; files are written atomically (temp file, fsync, rename) and
 * readable by their owner only.
 */
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  DEFAULT_KDF,
  type KdfParams,
  type Keyring,
  createKeyring,
  encodeKeyring,
  openKeyring,
} from '../crypto/index.js';
import { KeyringExistsError, NoKeyringError } from './errors.js';

export function resolveHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.CAIRN_HOME || join(homedir(), '.cairn');
}

export const keyringPath = (home: string) => join(home, 'keyring');

export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temp = `${path}.tmp-${process.pid}`;
  const file = await open(temp, 'w', 0o600);
  try {
    await file.writeFile(bytes);
    await file.sync();
  } finally {
    await file.close();
  }
  // rename is atomic; syncing the directory makes the new name itself durable.
  await rename(temp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export interface InitResult {
  readonly keyring: Keyring;
  readonly path: string;
  /** Where the keyring that --force replaced was moved. */
  readonly backup?: string;
}

export async function initKeyring(
  home: string,
  passphrase: string,
  options: { force?: boolean; kdf?: KdfParams } = {},
): Promise<InitResult> {
  const path = keyringPath(home);
  await mkdir(home, { recursive: true, mode: 0o700 });
  let backup: string | undefined;
  if (await exists(path)) {
    if (!options.force) throw new KeyringExistsError(path);
    backup = `${path}.bak-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await rename(path, backup);
  }
  const { keyring, bytes } = await createKeyring(passphrase, options.kdf ?? DEFAULT_KDF);
  await writeFileAtomic(path, bytes);
  return { keyring, path, backup };
}

async function readKeyringFile(home: string): Promise<{ path: string; bytes: Uint8Array }> {
  const path = keyringPath(home);
  try {
    return { path, bytes: await readFile(path) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NoKeyringError(path);
    throw err;
  }
}

export async function unlockKeyring(home: string, passphrase: string): Promise<Keyring> {
  const { path, bytes } = await readKeyringFile(home);
  return openKeyring(bytes, passphrase, path);
}

/** Re-seals an opened keyring under a new passphrase (and its own KDF parameters). */
export async function rewriteKeyring(home: string, keyring: Keyring, passphrase: string): Promise<void> {
  await writeFileAtomic(keyringPath(home), await encodeKeyring(keyring, passphrase));
}
