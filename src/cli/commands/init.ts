import type { Command } from 'commander';
import { DEFAULT_KDF, type KdfParams, type Keyring, checkKdf } from '../../crypto/index.js';
import { initKeyring, keyringPath, resolveHome, rewriteKeyring, unlockKeyring } from '../../cluster/index.js';
import { UsageError } from '../../errors/index.js';
import { readPassphrase } from '../passphrase.js';
import { asFlag, parseCount, parseSize } from '../parse.js';
import { commandGroup } from '../group.js';

interface KdfFlags {
  kdfMemory?: number;
  kdfPasses?: number;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const mib = (bytes: number) => `${bytes / 2 ** 20} MiB`;

function kdfFrom(flags: KdfFlags, base: KdfParams): KdfParams {
  const kdf = { ops: flags.kdfPasses ?? base.ops, memoryBytes: flags.kdfMemory ?? base.memoryBytes };
  try {
    checkKdf(kdf);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return kdf;
}

function withKdfFlags(cmd: Command): Command {
  return cmd
    .option('--kdf-memory <size>', `Argon2id memory (default ${mib(DEFAULT_KDF.memoryBytes)})`, asFlag(parseSize))
    .option('--kdf-passes <n>', `Argon2id passes (default ${DEFAULT_KDF.ops})`, asFlag(parseCount));
}

const currentPassphrase = (file?: string) =>
  readPassphrase({ file, envVar: 'CAIRN_PASSPHRASE', flag: '--passphrase-file', prompt: 'Passphrase: ' });

function describe(keyring: Keyring, path: string) {
  return {
    keyring: path,
    cluster_id: hex(keyring.clusterId),
    kdf: { algorithm: 'argon2id', passes: keyring.kdf.ops, memory_bytes: keyring.kdf.memoryBytes },
  };
}

export function registerInit(program: Command): void {
  withKdfFlags(
    program
      .command('init')
      .description('create the keyring (master key, cluster id) in $CAIRN_HOME, default ~/.cairn')
      .option('--passphrase-file <file>', 'read the new passphrase from FILE (else $CAIRN_PASSPHRASE, else a prompt)')
      .option('--force', 'replace an existing keyring, keeping the old one beside it as a backup')
      .option('--json', 'print the result as JSON'),
  ).action(async (flags: KdfFlags & { passphraseFile?: string; force?: boolean; json?: boolean }) => {
    const kdf = kdfFrom(flags, DEFAULT_KDF);
    const home = resolveHome();
    const passphrase = await readPassphrase({
      file: flags.passphraseFile,
      envVar: 'CAIRN_PASSPHRASE',
      flag: '--passphrase-file',
      prompt: 'New passphrase for the keyring: ',
      confirm: true,
    });
    const { keyring, path, backup } = await initKeyring(home, passphrase, { force: flags.force, kdf });
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ ...describe(keyring, path), home, backup: backup ?? null })}\n`);
      return;
    }
    if (backup) process.stdout.write(`Moved the old keyring to ${backup}\n`);
    process.stdout.write(
      `Created keyring ${path} (Argon2id, ${kdf.ops} passes, ${mib(kdf.memoryBytes)})\n` +
        `Cluster id: ${hex(keyring.clusterId)}\n` +
        'Keep the passphrase safe: without it neither this keyring nor any volume it holds keys for can be opened.\n',
    );
  });

  const keyring = commandGroup(program, 'keyring', 'check or re-protect the keyring');

  keyring
    .command('check')
    .description('open the keyring with the passphrase and show what it holds (never the keys)')
    .option('--passphrase-file <file>', 'read the passphrase from FILE (else $CAIRN_PASSPHRASE, else a prompt)')
    .option('--json', 'print the result as JSON')
    .action(async (flags: { passphraseFile?: string; json?: boolean }) => {
      const home = resolveHome();
      const opened = await unlockKeyring(home, await currentPassphrase(flags.passphraseFile));
      const info = describe(opened, keyringPath(home));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(info)}\n`);
        return;
      }
      process.stdout.write(
        `Keyring ${info.keyring} opens.\nCluster id: ${info.cluster_id}\n` +
          `Argon2id: ${info.kdf.passes} passes, ${mib(info.kdf.memory_bytes)}\n`,
      );
    });

  withKdfFlags(
    keyring
      .command('passwd')
      .description('change the keyring passphrase (and optionally its Argon2id parameters); keys stay the same')
      .option('--passphrase-file <file>', 'the current passphrase (else $CAIRN_PASSPHRASE, else a prompt)')
      .option(
        '--new-passphrase-file <file>',
        'the new passphrase (else $CAIRN_NEW_PASSPHRASE, else a prompt)',
      ),
  ).action(async (flags: KdfFlags & { passphraseFile?: string; newPassphraseFile?: string }) => {
    const home = resolveHome();
    const opened = await unlockKeyring(home, await currentPassphrase(flags.passphraseFile));
    const next = await readPassphrase({
      file: flags.newPassphraseFile,
      envVar: 'CAIRN_NEW_PASSPHRASE',
      flag: '--new-passphrase-file',
      prompt: 'New passphrase: ',
      confirm: true,
    });
    const updated = { ...opened, kdf: kdfFrom(flags, opened.kdf) };
    await rewriteKeyring(home, updated, next);
    process.stdout.write(
      `Keyring passphrase changed (Argon2id, ${updated.kdf.ops} passes, ${mib(updated.kdf.memoryBytes)}).\n`,
    );
  });
}
