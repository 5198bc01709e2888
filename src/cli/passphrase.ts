/**
 * Where a passphrase comes from: a file (--passphrase-file), an environment
 * variable, or a prompt with echo off when there is a terminal. Never argv,
 * where every user of the machine could read it in the process list.
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors/index.js';

export interface PassphraseSource {
  /** --passphrase-file (or --new-passphrase-file) */
  file?: string;
  /** e.g. CAIRN_PASSPHRASE */
  envVar: string;
  /** What to ask in a terminal. */
  prompt: string;
  /** Ask twice in a terminal (for a new passphrase). */
  confirm?: boolean;
  /** The flag that names the file, for messages. */
  flag: string;
}

async function fromFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read passphrase file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  // One trailing newline is what editors and `echo` add; the passphrase is the line.
  const passphrase = text.replace(/\r?\n$/, '');
  if (passphrase === '') throw new UsageError(`passphrase file ${file} is empty`);
  return passphrase;
}

/** Reads one line from the terminal without echoing it. */
function ask(prompt: string): Promise<string> {
  const input = process.stdin;
  // Echo goes off before the prompt shows, so nothing typed in reply is ever echoed.
  input.setRawMode(true);
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let line = '';
    const done = (result: () => void) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      result();
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(() => resolve(line));
        if (ch === '\u0003' || ch === '\u0004') return done(() => reject(new UsageError('cancelled')));
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    };
    input.resume();
    input.on('data', onData);
  });
}

export async function readPassphrase(source: PassphraseSource, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (source.file) return fromFile(source.file);
  const fromEnv = env[source.envVar];
  if (fromEnv) return fromEnv;
  if (!process.stdin.isTTY) {
    throw new UsageError(
      `no passphrase: set ${source.envVar}, pass ${source.flag} FILE, or run in a terminal to be asked`,
    );
  }
  const first = await ask(source.prompt);
  if (first === '') throw new UsageError('the passphrase must not be empty');
  if (source.confirm && (await ask('Repeat it: ')) !== first) throw new UsageError('the passphrases did not match');
  return first;
}

/** The `--passphrase-file` option every command that unlocks the keyring takes: `.option(...PASSPHRASE_OPTION)`. */
export const PASSPHRASE_OPTION = ['--passphrase-file <file>', 'read the keyring passphrase from FILE (else $CAIRN_PASSPHRASE, else a prompt)'] as const;
