import { fork, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { TypedEmitter } from '../TypedEmitter.ts';
import { MEMBER_ENV, type CapacityReport, type FromMember, type MemberSettings, type ToMember } from './poolProtocol.ts';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

const MAIN = new URL('../main.ts', import.meta.url).pathname;
/** A process that exits sooner than this after its start counts as crashing at start: the restart delay doubles. */
const STABLE_AFTER_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;
const METRICS_TIMEOUT_MS = 2000;

/** Loader flags (tsx) the child needs to run TypeScript; test-runner and inspector flags are left out. */
function loaderExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (/^--(import|require|loader|experimental-loader)=/.test(arg)) out.push(arg);
    else if (/^--(import|require|loader|experimental-loader)$/.test(arg) && i + 1 < argv.length) out.push(arg, argv[++i]!);
  }
  return out;
}

export type MediaProcessState = 'starting' | 'up' | 'down' | 'stopped';

interface MediaProcessEvents extends Record<string, unknown[]> {
  up: [];
  exit: [code: number | null, signal: NodeJS.Signals | null];
}

/** One media process of the pool, seen from the front door: started, watched, restarted when it exits. */
export class MediaProcess extends TypedEmitter<MediaProcessEvents> {
  state: MediaProcessState = 'starting';
  /** Its internal HTTP address once up. */
  url: URL | undefined;
  report: CapacityReport | undefined;
  /** Placements forwarded to this process (its current run): numbers them, see PLACEMENT_HEADER. */
  placementsSent = 0;
  restarts = 0;
  private child: ChildProcess | undefined;
  private startedAt = 0;
  private restartDelayMs: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private nextRequestId = 1;
  private readonly metricsWaiters = new Map<number, (m: MetricObjectWithValues<MetricValue<string>>[] | undefined) => void>();

  constructor(
    readonly settings: MemberSettings,
    private readonly args: string[],
    private readonly baseRestartDelayMs: number,
    private readonly log: Logger,
  ) {
    super();
    this.restartDelayMs = baseRestartDelayMs;
  }

  get index(): number {
    return this.settings.index;
  }

  /** Placements forwarded that its last report did not know of yet (so a burst is spread before the reports catch up). */
  get placementsUnseen(): number {
    return Math.max(0, this.placementsSent - (this.report?.placementsSeen ?? 0));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.state = 'starting';
    this.url = undefined;
    this.report = undefined;
    this.placementsSent = 0;
    this.startedAt = Date.now();
    const child = fork(MAIN, this.args, {
      execArgv: loaderExecArgv(),
      env: { ...process.env, [MEMBER_ENV]: JSON.stringify(this.settings) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    child.on('message', (msg: FromMember) => this.onMessage(msg));
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
    child.on('error', (err) => this.log.error({ member: this.index, err: err.message }, 'media process error'));
  }

  /** Its metrics (prom-client JSON), or undefined when it is not up or does not answer in time. */
  metrics(): Promise<MetricObjectWithValues<MetricValue<string>>[] | undefined> {
    const child = this.child;
    if (this.state !== 'up' || !child?.connected) return Promise.resolve(undefined);
    const requestId = this.nextRequestId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.metricsWaiters.delete(requestId);
        resolve(undefined);
      }, METRICS_TIMEOUT_MS);
      this.metricsWaiters.set(requestId, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      child.send({ type: 'metrics', requestId } satisfies ToMember);
    });
  }

  /** Stops it for good (SIGTERM, SIGKILL after `timeoutMs`). */
  stop(timeoutMs: number): Promise<void> {
    this.state = 'stopped';
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  private onMessage(msg: FromMember): void {
    switch (msg.type) {
      case 'ready':
        this.url = new URL(msg.url);
        this.state = 'up';
        this.safeEmit('up');
        break;
      case 'capacity':
        this.report = msg.report;
        break;
      case 'metrics':
        this.metricsWaiters.get(msg.requestId)?.(msg.metrics);
        this.metricsWaiters.delete(msg.requestId);
        break;
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    for (const waiter of this.metricsWaiters.values()) waiter(undefined);
    this.metricsWaiters.clear();
    this.safeEmit('exit', code, signal);
    if (this.state === 'stopped') return;
    this.state = 'down';
    const lived = Date.now() - this.startedAt;
    this.restartDelayMs = lived < STABLE_AFTER_MS ? Math.min(MAX_RESTART_DELAY_MS, Math.max(this.restartDelayMs * 2, 500)) : this.baseRestartDelayMs;
    this.log.error({ member: this.index, code, signal, livedMs: lived, restartInMs: this.restartDelayMs }, 'media process exited; its sessions ended; restarting');
    this.restartTimer = setTimeout(() => {
      this.restarts++;
      this.start();
    }, this.restartDelayMs);
  }
}
