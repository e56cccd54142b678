/**
 * Runs tasks one after another per key (e.g. per aggregate stream) inside this process. Many
 * concurrent commands on one hot stream (150 KT reservations on one unit) would otherwise lose
 * their optimistic-concurrency race over and over; queued, each decides on the latest state.
 * Across processes the expected-version check still guards the stream.
 */
export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(task, task);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}

/**
 * Coalesces calls of an idempotent job (a projection catch-up): at most one run at a time, and a
 * caller always waits for a run that started after its call, so it sees its own writes.
 */
export class Coalescer {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly job: () => Promise<unknown>) {}

  trigger(): Promise<void> {
    if (!this.running) {
      this.running = this.job()
        .then(() => undefined)
        .finally(() => (this.running = undefined));
      return this.running;
    }
    if (!this.next) {
      this.next = this.running
        .catch(() => undefined)
        .then(() => {
          this.next = undefined;
          return this.trigger();
        });
    }
    return this.next;
  }
}
