/** Runs tasks one at a time, in call order; a failed task does not stop the ones after it. */
export class Serial {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(work);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/** One Serial per key, forgotten when its queue drains, so idle keys cost nothing. */
export class KeyedSerial {
  readonly #queues = new Map<string, { serial: Serial; pending: number }>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    let queue = this.#queues.get(key);
    if (queue === undefined) {
      queue = { serial: new Serial(), pending: 0 };
      this.#queues.set(key, queue);
    }
    const entry = queue;
    entry.pending++;
    const result = entry.serial.run(work);
    const done = () => {
      if (--entry.pending === 0) this.#queues.delete(key);
    };
    result.then(done, done);
    return result;
  }
}
