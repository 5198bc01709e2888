/**
 * The write-back journal: every change to a mounted volume, in order,
 * encrypted with the volume key, appended to log files in
 * $CAIRN_HOME/volumes/<id>/journal with one write(2) each. A change is in the
 * kernel's hands (so it survives a kill -9 of the mount) before the
 * filesystem call returns. A commit to the backend records how far it got
 * (CLEARED) and drops the files it covers; the next mount replays the rest.
 *
 * Plain append-only files rather than LevelDB: appending 128 KiB entries to
 * LevelDB ran at ~115 MB/s here, which capped every write to a volume; a
 * write(2) to the end of a file runs at memory speed. See docs/FORMAT.md.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AuthenticationError, NONCE_BYTES, TAG_BYTES, open as openAead, randomNonceInto, sealInPlace } from '../crypto/index.js';
import { CairnError } from '../errors/index.js';
import { type Op, decodeOp, encodeOp } from './ops.js';

const AD = new TextEncoder().encode('cairn-journal');
/** u32 length of what follows, u64 sequence number. */
const HEAD = 12;
const ROTATE_BYTES = 64 * 2 ** 20;
const fileName = (firstSeq: number) => `journal-${firstSeq.toString(16).padStart(16, '0')}.log`;

export class JournalError extends CairnError {
  constructor(message: string, options?: ErrorOptions) {
    super('volume.journal', message, options);
  }
}

interface Entry {
  seq: number;
  sealed: Uint8Array;
}

/** Cleared log files kept to be written over (see #rotate); more are deleted. */
const SPARES = 2;
const FILE_NAME = /^journal-([0-9a-f]{16})\.log$/;
const SPARE_NAME = /^spare-[0-9a-f]+\.log$/;

/**
 * The records of a log file: from the sequence number its name gives, one
 * more each. A torn last record (a crash mid-write) ends it, and so does a
 * record of another number: what is left of the file's earlier life as a
 * spare.
 */
function readEntries(path: string): Entry[] {
  const b = readFileSync(path);
  const out: Entry[] = [];
  let expected = Number.parseInt(FILE_NAME.exec(basename(path))![1], 16);
  for (let at = 0; at + HEAD <= b.length; expected++) {
    const length = b.readUInt32LE(at);
    const seq = Number(b.readBigUInt64LE(at + 4));
    if (seq !== expected || at + HEAD + length > b.length) break;
    out.push({ seq, sealed: b.subarray(at + HEAD, at + HEAD + length) });
    at += HEAD + length;
  }
  return out;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export class Journal {
  readonly #dir: string;
  readonly #key: Uint8Array;
  #seq = 0;
  #cleared = 0;
  #fd: number;
  /** Log files before the current one, with the last sequence number each holds. */
  #older: { path: string; last: number }[];
  #current: string;

  /** Cleared log files waiting to be written over. */
  readonly #spares: string[];

  private constructor(dir: string, key: Uint8Array, seq: number, cleared: number, older: { path: string; last: number }[], spares: string[]) {
    this.#dir = dir;
    this.#key = key;
    this.#seq = seq;
    this.#cleared = cleared;
    this.#spares = spares;
    this.#current = join(dir, fileName(seq + 1));
    // A file of that name can hold no whole record (they would all be past `seq`), only a torn
    // one from a crash: start it afresh.
    this.#older = older.filter((f) => f.path !== this.#current);
    this.#fd = openSync(this.#current, 'w', 0o600);
  }

  static async open(dir: string, key: Uint8Array): Promise<Journal> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const lock = join(dir, 'LOCK');
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
    } catch {
      const owner = Number(readFileSync(lock, 'utf8'));
      if (owner && owner !== process.pid && pidAlive(owner)) {
        throw new JournalError(`the journal at ${dir} is in use by process ${owner}: is the volume mounted here already?`);
      }
      writeFileSync(lock, String(process.pid));
    }
    let cleared = 0;
    try {
      cleared = Number(readFileSync(join(dir, 'CLEARED'), 'utf8')) || 0;
    } catch {
      // No commit has cleared anything yet.
    }
    const names = readdirSync(dir);
    const spares = names.filter((f) => SPARE_NAME.test(f)).map((f) => join(dir, f));
    for (const extra of spares.splice(SPARES)) unlinkSync(extra);
    const older = names
      .filter((f) => FILE_NAME.test(f))
      .sort()
      .map((f) => {
        const entries = readEntries(join(dir, f));
        return { path: join(dir, f), last: entries.at(-1)?.seq ?? 0 };
      });
    const seq = Math.max(cleared, ...older.map((f) => f.last));
    return new Journal(dir, key, seq, cleared, older, spares);
  }

  get lastSeq(): number {
    return this.#seq;
  }

  /** Written (one write(2), so whole) before this returns; the promise is for callers that await. */
  append(op: Op): Promise<void> {
    const parts = encodeOp(op);
    const sealedLength = parts.reduce((n, p) => n + p.length, 0) + TAG_BYTES;
    // One buffer for the whole record, the op copied in and sealed where it
    // lies; reused, since writeSync is done with it on return (a fresh 128 KiB
    // per write, or the cipher's own output buffers, kept the garbage
    // collector busy).
    const size = HEAD + NONCE_BYTES + sealedLength;
    if (this.#scratch.length < size) this.#scratch = Buffer.allocUnsafeSlow(Math.max(size, 2 * this.#scratch.length));
    const record = this.#scratch.subarray(0, size);
    record.writeUInt32LE(NONCE_BYTES + sealedLength, 0);
    const seq = this.#seq + 1;
    record.writeBigUInt64LE(BigInt(seq), 4);
    const nonce = randomNonceInto(record.subarray(HEAD, HEAD + NONCE_BYTES));
    let at = HEAD + NONCE_BYTES;
    for (const part of parts) {
      record.set(part, at);
      at += part.length;
    }
    sealInPlace(this.#key, nonce, record.subarray(HEAD + NONCE_BYTES), AD);
    let written: number;
    try {
      written = writeSync(this.#fd, record);
    } catch (err) {
      return this.#failed(err);
    }
    if (written !== record.length) return this.#failed(new Error(`only ${written} of ${record.length} bytes were written`));
    // Numbered only once whole: a number skipped would end replay of its file there (readEntries).
    this.#seq = seq;
    this.#bytes += record.length;
    try {
      // New files now and then, so a commit can drop what it covers while writes go on.
      if (this.#bytes > ROTATE_BYTES) this.#rotate();
    } catch {
      // The record is written; the next append rotates again.
    }
    return Promise.resolve();
  }

  /** A record that did not go down whole ends its file: the next one starts a new file, under the same number. */
  #failed(cause: unknown): Promise<void> {
    try {
      this.#rotate();
    } catch {
      // Still failing (a full disk): the next append tries again.
    }
    return Promise.reject(new JournalError(`could not write the journal in ${this.#dir}`, { cause }));
  }

  #bytes = 0;
  #scratch = Buffer.alloc(0);

  #rotate(): void {
    const next = join(this.#dir, fileName(this.#seq + 1));
    // Nothing whole in the current file yet (its first record failed): it is started again, not listed twice.
    const again = next === this.#current;
    // A spare is written over from its start, not truncated: its pages stay in the page cache,
    // where a new file's would be fresh memory (a fault for every page, and on a virtual
    // machine the host's work too). What remains past the new records is never read (readEntries).
    const spare = again ? undefined : this.#spares.pop();
    let fd: number | undefined;
    if (spare) {
      try {
        renameSync(spare, next);
        fd = openSync(next, 'r+', 0o600);
      } catch {
        // The spare is gone: a new file instead.
      }
    }
    fd ??= openSync(next, 'w', 0o600);
    // The new file is open before the old one closes: a failure above leaves the journal as it was.
    closeSync(this.#fd);
    if (!again) this.#older.push({ path: this.#current, last: this.#seq });
    this.#current = next;
    this.#fd = fd;
    this.#bytes = 0;
  }

  /** Every change not yet committed, oldest first. */
  async pending(): Promise<Op[]> {
    const ops: Op[] = [];
    for (const path of [...this.#older.map((f) => f.path), this.#current]) {
      const entries = readEntries(path);
      let opened = false;
      for (const [i, e] of entries.entries()) {
        if (e.seq <= this.#cleared) continue;
        let plain: Uint8Array;
        try {
          plain = openAead(this.#key, e.sealed.subarray(0, NONCE_BYTES), e.sealed.subarray(NONCE_BYTES), AD, 'journal entry');
        } catch (err) {
          // A file's last record torn by a power loss can be followed by a spare's older bytes, which its length
          // then takes in: it ends the file, like a torn record at the end of one, when a record before it in the
          // file opened (so the key is right). Anywhere else it is damage, or the wrong key.
          if (err instanceof AuthenticationError && i === entries.length - 1 && opened) break;
          throw err;
        }
        opened = true;
        ops.push(decodeOp(plain));
      }
    }
    return ops;
  }

  /** A commit covers everything up to `seq`: remember that, and drop the files it covers. */
  async clearThrough(seq: number): Promise<void> {
    const marker = join(this.#dir, 'CLEARED');
    writeFileSync(`${marker}.tmp`, String(seq));
    renameSync(`${marker}.tmp`, marker);
    this.#cleared = seq;
    // Everything is covered: start a fresh file so the current one can go too.
    if (this.#seq <= seq && this.#bytes > 0) this.#rotate();
    this.#older = this.#older.filter((f) => {
      if (f.last > seq) return true;
      if (this.#spares.length < SPARES) {
        const spare = join(this.#dir, `spare-${randomBytes(6).toString('hex')}.log`);
        renameSync(f.path, spare);
        this.#spares.push(spare);
      } else {
        unlinkSync(f.path);
      }
      return false;
    });
  }

  async close(): Promise<void> {
    fsyncSync(this.#fd);
    closeSync(this.#fd);
    try {
      unlinkSync(join(this.#dir, 'LOCK'));
    } catch {
      // Already gone.
    }
  }
}
