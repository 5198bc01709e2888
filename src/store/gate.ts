import { isShardId } from '../crypto/index.js';
import { InvalidShardIdError, OperationAbortedError, StoreUnavailableError } from './errors.js';
import type { StoreOptions } from './types.js';

export function checkShardId(storeId: string, id: unknown): void {
  if (typeof id !== 'string' || !isShardId(id)) throw new InvalidShardIdError(storeId, id);
}

/**
 * What every store does around each operation, wherever its bytes live: the
 * closed state, the caller's AbortSignal, and close() waiting for operations
 * already started.
 */
export class OperationGate {
  readonly #storeId: () => string;
  #closing: Promise<void> | undefined;
  readonly #inflight = new Set<Promise<unknown>>();

  constructor(storeId: () => string) {
    this.#storeId = storeId;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  async run<T>(operation: string, options: StoreOptions | undefined, work: (signal?: AbortSignal) => Promise<T>): Promise<T> {
    const id = this.#storeId();
    if (this.#closing) throw new StoreUnavailableError(id, 'it has been closed');
    const signal = options?.signal;
    if (signal?.aborted) throw new OperationAbortedError(id, operation, signal.reason);
    const task = work(signal);
    const forget = () => this.#inflight.delete(task);
    this.#inflight.add(task);
    task.then(forget, forget);
    return signal ? untilAborted(task, signal, () => new OperationAbortedError(id, operation, signal.reason)) : task;
  }

  /** Idempotent: `release` runs once, after every started operation has settled. */
  close(release: () => Promise<void>): Promise<void> {
    this.#closing ??= Promise.allSettled(this.#inflight).then(release);
    return this.#closing;
  }
}

/**
 * Settles with `task`, or rejects as soon as `signal` aborts. The task itself
 * runs on (close() waits for it); backends look at the signal to stop early.
 */
function untilAborted<T>(task: Promise<T>, signal: AbortSignal, aborted: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    task.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
