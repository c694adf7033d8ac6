import type { Worker } from 'node:worker_threads';
import type { PipelineControl } from '../../engines/pipeline.ts';
import { spawnWorker } from '../../engines/util/spawnWorker.ts';
import { InvalidStateError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { FaultMode, FromWorker, PipelineWorkerSettings, ToWorker, WorkerFrame, WorkerReference, WorkerVideoSettings } from './pipelineProtocol.ts';

const WORKER_URL = new URL('./pipelineWorker.ts', import.meta.url);

/** Callbacks of one session's pipeline; all run on the main thread. */
export interface PipelineHandlers {
  onOpened(lookaheadMs: number, chunkFrames: number): void;
  onFrame(frame: WorkerFrame): void;
  /** A frame not sent: `shed` when skipped by the session's stride (load shedding), else dropped for falling behind. */
  onDropped(index: number, shed: boolean): void;
  /** The pipeline failed (its own error, or its worker crashed); the session must end. */
  onError(message: string): void;
}

/** Main-thread handle of one session's pipeline inside a worker. */
export interface PipelineHandle {
  pushAudio(pcm16k: Float32Array): void;
  control(msg: PipelineControl): void;
  requestKeyframe(): void;
  /** Render one frame in `stride` (1 = all): shed load from this session. */
  setStride(stride: number): void;
  /** Test hook: fail this session's pipeline ('stage') or kill the worker that hosts it ('worker'). */
  injectFault(mode: FaultMode): void;
  close(): void;
}

interface PoolWorker {
  index: number;
  worker: Worker;
  sessions: Map<string, PipelineHandlers>;
  ready: boolean;
  exited: boolean;
  /** Latest render engine counters the worker reported. */
  counters: Record<string, number>;
}

/** Wait before replacing a worker that died before it was ready (e.g. its renderer could not load). */
const RESTART_BACKOFF_MS = 1000;
/** How long close() waits for a worker to stop on its own before terminating it anyway. */
const STOP_TIMEOUT_MS = 5000;

/** Fixed set of pipeline worker threads; sessions go to the least loaded one; crashed workers restart. */
export class PipelineWorkerPool {
  private readonly workers: PoolWorker[] = [];
  private closed = false;

  /** Called whenever a crashed worker is replaced. */
  onWorkerRestart: (() => void) | undefined;

  constructor(
    readonly size: number,
    private readonly settings: PipelineWorkerSettings,
    private readonly log: Logger,
  ) {
    for (let i = 0; i < size; i++) this.workers.push(this.start(i));
  }

  /** Resolves when every worker has built its renderer (or rejects when one fails to). */
  ready(timeoutMs = 60_000): Promise<void> {
    const each = this.workers.map(
      (pw) =>
        new Promise<void>((resolve, reject) => {
          if (pw.ready) return resolve();
          const timer = setTimeout(() => reject(new Error(`pipeline worker ${pw.index} not ready after ${timeoutMs} ms`)), timeoutMs);
          pw.worker.on('message', (m: FromWorker) => {
            if (m.type === 'ready') {
              clearTimeout(timer);
              resolve();
            }
          });
          pw.worker.once('error', (err: Error) => {
            clearTimeout(timer);
            reject(new Error(`pipeline worker ${pw.index} failed to start: ${err.message}`));
          });
        }),
    );
    return Promise.all(each).then(() => undefined);
  }

  /** Render engine counters summed over the workers (a restarted worker starts from zero). */
  engineCounters(): Record<string, number> {
    const sum: Record<string, number> = {};
    for (const w of this.workers) for (const [k, v] of Object.entries(w.counters)) sum[k] = (sum[k] ?? 0) + v;
    return sum;
  }

  /** Sessions per worker, for stats. */
  load(): number[] {
    return this.workers.map((w) => w.sessions.size);
  }

  /** Open a session's pipeline in the least loaded worker. */
  open(
    sessionId: string,
    params: { reference: WorkerReference; video: WorkerVideoSettings; seed: number; maxQueueFrames: number },
    handlers: PipelineHandlers,
  ): PipelineHandle {
    if (this.closed) throw new InvalidStateError('worker pool is closed');
    const pw = this.workers.reduce((a, b) => (b.sessions.size < a.sessions.size ? b : a));
    pw.sessions.set(sessionId, handlers);
    this.send(pw, { type: 'open', sessionId, ...params });
    const send = (msg: ToWorker, transfer?: ArrayBuffer[]) => {
      // The worker may have been replaced since open: find the session's current home.
      const home = this.workers.find((w) => w.sessions.has(sessionId));
      if (home) this.send(home, msg, transfer);
    };
    return {
      pushAudio: (pcm) => send({ type: 'audio', sessionId, pcm }, [pcm.buffer as ArrayBuffer]),
      control: (control) => send({ type: 'control', sessionId, control }),
      requestKeyframe: () => send({ type: 'keyframe', sessionId }),
      setStride: (stride) => send({ type: 'stride', sessionId, stride }),
      injectFault: (mode) => send({ type: 'crash', sessionId, mode }),
      close: () => {
        send({ type: 'close', sessionId });
        for (const w of this.workers) w.sessions.delete(sessionId);
      },
    };
  }

  /** Test hook: every worker burns `ms` of CPU per rendered frame (a CPU spike from a noisy neighbour); 0 ends it. */
  spike(ms: number): void {
    for (const w of this.workers) this.send(w, { type: 'spike', ms });
  }

  /** Stops every worker: each ends its sessions and finishes the frame in progress first (see stopWorker). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => this.stopWorker(w)));
  }

  /**
   * Asks a worker to stop and terminates it once it says it has: terminating a thread inside a native call (an
   * encode, an inference) aborts the whole process. One that does not answer in STOP_TIMEOUT_MS is terminated anyway.
   */
  private stopWorker(pw: PoolWorker): Promise<void> {
    const { worker } = pw;
    if (pw.exited) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const terminate = () => {
        clearTimeout(timer);
        worker.terminate().then(() => resolve(), () => resolve());
      };
      const timer = setTimeout(() => {
        this.log.warn({ worker: pw.index, timeoutMs: STOP_TIMEOUT_MS }, 'pipeline worker did not stop; terminating it');
        terminate();
      }, STOP_TIMEOUT_MS);
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'stopped') terminate();
      });
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      worker.postMessage({ type: 'shutdown' } satisfies ToWorker);
    });
  }

  private send(pw: PoolWorker, msg: ToWorker, transfer?: ArrayBuffer[]): void {
    pw.worker.postMessage(msg, transfer ?? []);
  }

  private start(index: number): PoolWorker {
    const worker = spawnWorker(WORKER_URL, this.settings, { name: `pipeline-${index}` });
    const pw: PoolWorker = { index, worker, sessions: new Map(), ready: false, exited: false, counters: {} };
    worker.on('message', (msg: FromWorker) => {
      if (msg.type === 'ready') {
        pw.ready = true;
        return;
      }
      if (msg.type === 'engineCounters') {
        pw.counters = msg.counters;
        return;
      }
      if (msg.type === 'stopped') return;
      const h = pw.sessions.get(msg.sessionId);
      if (!h) return;
      switch (msg.type) {
        case 'opened':
          h.onOpened(msg.lookaheadMs, msg.chunkFrames);
          break;
        case 'frame':
          h.onFrame(msg);
          break;
        case 'dropped':
          h.onDropped(msg.index, msg.shed);
          break;
        case 'error':
          pw.sessions.delete(msg.sessionId);
          h.onError(msg.message);
          break;
      }
    });
    worker.on('error', (err: Error) => this.log.error({ worker: index, err: err.message }, 'pipeline worker crashed'));
    worker.on('exit', (code) => {
      pw.exited = true;
      if (this.closed) return;
      const orphans = [...pw.sessions.values()];
      pw.sessions.clear();
      this.log.warn({ worker: index, code, sessions: orphans.length }, 'pipeline worker exited; restarting it');
      for (const h of orphans) h.onError(`render worker ${index} crashed`);
      const replace = () => {
        if (this.closed) return;
        this.workers[this.workers.indexOf(pw)] = this.start(index);
        this.onWorkerRestart?.();
      };
      if (pw.ready) replace();
      else setTimeout(replace, RESTART_BACKOFF_MS).unref();
    });
    return pw;
  }
}
