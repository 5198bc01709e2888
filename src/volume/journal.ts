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
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
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

  async append(op: Op): Promise<void> {
    const nonce = randomNonce();
    const sealed = seal(this.#key, nonce, encodeOp(op), AD);
    const value = new Uint8Array(nonce.length + sealed.length);
    value.set(nonce);
    value.set(sealed, nonce.length);
    await this.#db.put(seqKey(++this.#seq), value);
  }

  /** Every change not yet committed, oldest first. */
  async pending(): Promise<Op[]> {
    const ops: Op[] = [];
    for await (const value of this.#db.values()) {
      ops.push(decodeOp(openAead(this.#key, value.subarray(0, 24), value.subarray(24), AD, 'journal entry')));
    }
    return ops;
  }

  async clearThrough(seq: number): Promise<void> {
    await this.#db.clear({ lte: seqKey(seq) });
  }

  close(): Promise<void> {
    return this.#db.close();
  }
}
