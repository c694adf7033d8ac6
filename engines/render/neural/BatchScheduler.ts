/**
 * Collects work items from many callers and runs them in batches of at most `maxBatch`, one batch
 * at a time (one accelerator). submit() returns at once with a promise; the queue is bounded and a
 * full queue rejects new items (drop-newest), so a slow batch never blocks or grows without bound.
 */

/** Options of BatchScheduler. */
export interface BatchSchedulerOptions<I, R> {
  /** Most items one batch takes. */
  maxBatch: number;
  /** Most items waiting (not running); more are rejected with QueueFullError. */
  maxQueue: number;
  /** Runs one batch; must resolve one result per item, in order. */
  runBatch: (items: I[]) => Promise<R[]>;
  /** Items with different keys never share a batch (e.g. window length). Default: one key. */
  key?: (item: I) => string;
}

/** Counters of a scheduler. */
export interface BatchSchedulerStats {
  batches: number;
  items: number;
  /** Items rejected because the queue was full. */
  dropped: number;
  /** Items waiting now. */
  queued: number;
  /** Largest batch run so far. */
  maxBatchSeen: number;
}

/** The scheduler's queue was full. */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

interface Waiting<I, R> {
  item: I;
  key: string;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

/** Cross-caller batching queue; see the file comment. */
export class BatchScheduler<I, R> {
  private readonly queue: Waiting<I, R>[] = [];
  private running = false;
  private scheduled = false;
  private closed = false;
  private readonly counters = { batches: 0, items: 0, dropped: 0, maxBatchSeen: 0 };

  constructor(private readonly options: BatchSchedulerOptions<I, R>) {
    if (!(options.maxBatch >= 1)) throw new TypeError(`maxBatch must be >= 1, got ${options.maxBatch}`);
    if (!(options.maxQueue >= 1)) throw new TypeError(`maxQueue must be >= 1, got ${options.maxQueue}`);
  }

  /** Queue one item; resolves with its result when its batch finishes. Never waits for a running batch to return. */
  submit(item: I): Promise<R> {
    if (this.closed) return Promise.reject(new Error('BatchScheduler is closed'));
    if (this.queue.length >= this.options.maxQueue) {
      this.counters.dropped++;
      return Promise.reject(new QueueFullError(`render queue full [queued:${this.queue.length}, maxQueue:${this.options.maxQueue}]`));
    }
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, key: this.options.key?.(item) ?? '', resolve, reject });
      this.kick();
    });
  }

  /** Current counters. */
  stats(): BatchSchedulerStats {
    return { ...this.counters, queued: this.queue.length };
  }

  /** Reject every waiting item; the running batch finishes. Later submits reject. */
  close(): void {
    this.closed = true;
    for (const w of this.queue.splice(0)) w.reject(new Error('BatchScheduler closed, pending item aborted'));
  }

  private kick(): void {
    if (this.running || this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    // One macrotask of grace lets every caller of this tick join the batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length) {
        const key = this.queue[0]!.key;
        const batch: Waiting<I, R>[] = [];
        for (let i = 0; i < this.queue.length && batch.length < this.options.maxBatch; ) {
          if (this.queue[i]!.key === key) batch.push(...this.queue.splice(i, 1));
          else i++;
        }
        this.counters.batches++;
        this.counters.items += batch.length;
        this.counters.maxBatchSeen = Math.max(this.counters.maxBatchSeen, batch.length);
        try {
          const results = await this.options.runBatch(batch.map((w) => w.item));
          if (results.length !== batch.length) throw new Error(`runBatch returned ${results.length} results for ${batch.length} items`);
          batch.forEach((w, i) => w.resolve(results[i]!));
        } catch (err) {
          for (const w of batch) w.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
