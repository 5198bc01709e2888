/**
 * The write-back journal: every change to a mounted volume, in order, in a
 * local LevelDB, encrypted with the volume key. A change is in the journal
 * (in the OS's hands, so it survives a kill -9 of the mount) before the
 * filesystem call returns; a commit to the backend clears what it covered,
 * and the next mount replays whatever is left.
 */
import { Level } from 'level';
import { open as openAead, randomNonce, seal } from '../crypto/index.js';
import { CairnError } from '../errors/index.js';
import { type Op, decodeOp, encodeOp } from './ops.js';

const AD = new TextEncoder().encode('cairn-journal');
const seqKey = (seq: number) => seq.toString(16).padStart(16, '0');

export class JournalError extends CairnError {
  constructor(message: string, options?: ErrorOptions) {
    super('volume.journal', message, options);
  }
}

export class Journal {
  readonly #db: Level<string, Uint8Array>;
  readonly #key: Uint8Array;
  #seq = 0;

  private constructor(db: Level<string, Uint8Array>, key: Uint8Array) {
    this.#db = db;
    this.#key = key;
  }

  static async open(dir: string, key: Uint8Array): Promise<Journal> {
    // A large write buffer keeps journaled data in the log and memtable: a commit clears it before
    // LevelDB would rewrite it into tables. It is ciphertext, so compression would only cost time.
    const db = new Level<string, Uint8Array>(dir, {
      keyEncoding: 'utf8',
      valueEncoding: 'view',
      writeBufferSize: 256 * 2 ** 20,
      compression: false,
    });
    try {
      await db.open();
    } catch (err) {
      throw new JournalError(`cannot open the journal at ${dir}: is the volume mounted by another process here?`, {
        cause: err,
      });
    }
    const journal = new Journal(db, key);
    for await (const k of db.keys({ reverse: true, limit: 1 })) journal.#seq = Number.parseInt(k, 16);
    return journal;
  }

  get lastSeq(): number {
    return this.#seq;
  }

  /**
   * Takes its place in the journal now (the order of calls is the order of
   * replay) and resolves once it is written. Entries appended while a write
   * is under way go together in the next batch, so a stream of small writes
   * costs one LevelDB write per batch, not one each.
   */
  append(op: Op): Promise<void> {
    const nonce = randomNonce();
    const sealed = seal(this.#key, nonce, encodeOp(op), AD);
    const value = new Uint8Array(nonce.length + sealed.length);
    value.set(nonce);
    value.set(sealed, nonce.length);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ key: seqKey(++this.#seq), value, resolve, reject });
      if (!this.#writing) this.#writing = this.#drain();
    });
  }

  readonly #waiting: { key: string; value: Uint8Array; resolve: () => void; reject: (e: Error) => void }[] = [];
  #writing?: Promise<void>;

  async #drain(): Promise<void> {
    while (this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0);
      try {
        await this.#db.batch(batch.map((e) => ({ type: 'put' as const, key: e.key, value: e.value })));
        for (const e of batch) e.resolve();
      } catch (err) {
        const failure = new JournalError('could not write the journal', { cause: err });
        for (const e of batch) e.reject(failure);
      }
    }
    this.#writing = undefined;
  }

  /** Every change not yet committed, oldest first. */
  async pending(): Promise<Op[]> {
    const ops: Op[] = [];
    for await (const value of this.#db.values()) {
      ops.push(decodeOp(openAead(this.#key, value.subarray(0, 24), value.subarray(24), AD, 'journal entry')));
    }
    return ops;
  }

  /** Drops entries up to `seq`, after any still being written (else they would outlive the clear). */
  async clearThrough(seq: number): Promise<void> {
    while (this.#writing) await this.#writing;
    await this.#db.clear({ lte: seqKey(seq) });
  }

  async close(): Promise<void> {
    await this.#writing;
    await this.#db.close();
  }
}
