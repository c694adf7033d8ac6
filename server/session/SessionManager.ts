import { availableParallelism } from 'node:os';
import type { Config } from '../config.ts';
import { CapacityError, NotFoundError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { PipelineWorkerPool } from '../media/PipelineWorkerPool.ts';
import type { WorkerReference } from '../media/pipelineProtocol.ts';
import { CapacityEstimator } from './CapacityEstimator.ts';
import { Session, type SessionInit } from './Session.ts';

/** Length of one CPU measurement window, ms. */
const CPU_WINDOW_MS = 2000;
/** Sessions younger than this are starting up (encoder init, JIT): windows with them are not used, ms. */
const WARMUP_MS = 3000;

/** Owns every Session by id; admits new ones up to the configured limit and the measured capacity. */
export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  /** Offers being negotiated count against capacity too. */
  private pending = 0;
  private closed = false;
  private readonly estimator: CapacityEstimator;
  private readonly cpuTimer: NodeJS.Timeout;
  private lastCpu = process.cpuUsage();
  private lastCpuAt = performance.now();
  /** Sessions were opened or closed during the current window: it is not steady. */
  private windowDisturbed = false;

  constructor(
    private readonly config: Config,
    private readonly pool: PipelineWorkerPool,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.estimator = new CapacityEstimator(Math.min(config.renderer.workers + 1, availableParallelism()), config.sessions.capacityUtilization);
    this.cpuTimer = setInterval(() => this.measureCpu(), CPU_WINDOW_MS);
    this.cpuTimer.unref();
  }

  /** Feed the estimator one CPU window if the session set was steady and warmed up during it. */
  private measureCpu(): void {
    const now = performance.now();
    const usage = process.cpuUsage(this.lastCpu);
    const cpuMsPerS = ((usage.user + usage.system) / 1000) * (1000 / (now - this.lastCpuAt));
    this.lastCpu = process.cpuUsage();
    this.lastCpuAt = now;
    const warm = this.list().every((s) => now + performance.timeOrigin - s.createdAt > WARMUP_MS);
    if (!this.windowDisturbed && this.pending === 0 && warm) this.estimator.sample(cpuMsPerS, this.sessions.size);
    this.windowDisturbed = false;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Start a new session (negotiating its peer, for the peer sources); throws CapacityError when full. */
  async create(init: SessionInit, reference: WorkerReference): Promise<{ session: Session; answerSdp: string | undefined }> {
    if (this.closed) throw new CapacityError('server is shutting down', 5);
    const { limit, measured } = this.capacity();
    if (this.sessions.size + this.pending >= limit) {
      this.metrics.sessionsRejected.inc({ reason: measured ? 'capacity' : 'full' });
      const why = measured
        ? `measured capacity is ${limit} sessions (${Math.round(this.estimator.sessionCostMs)} ms of CPU a second per session)`
        : `session limit ${limit} reached`;
      throw new CapacityError(`server is full: ${why}`, 5);
    }
    this.pending++;
    let created: { session: Session; answerSdp: string | undefined };
    try {
      created = await Session.create({ init, reference, config: this.config, pool: this.pool, metrics: this.metrics, log: this.log });
    } catch (err) {
      this.metrics.sessionsRejected.inc({ reason: 'bad_offer' });
      throw err;
    } finally {
      this.pending--;
    }
    const { session } = created;
    this.sessions.set(session.id, session);
    this.metrics.sessionsAdmitted.inc();
    this.metrics.sessionsActive.set(this.sessions.size);
    this.windowDisturbed = true;
    session.once('close', () => {
      this.sessions.delete(session.id);
      this.windowDisturbed = true;
      this.metrics.sessionsActive.set(this.sessions.size);
    });
    return created;
  }

  /** Sessions admitted at most: `sessions.max`, lowered to what the measured CPU per session fits in the budget. */
  capacity(): { limit: number; measured: boolean; cpuMsPerSessionS: number } {
    const { limit, measured } = this.estimator.limit(this.config.sessions.max);
    return { limit, measured, cpuMsPerSessionS: Math.round(this.estimator.sessionCostMs) };
  }

  get(id: string): Session {
    const s = this.sessions.get(id);
    if (!s) throw new NotFoundError(`no session ${id}`);
    return s;
  }

  /** The session with this id, or undefined. */
  find(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  list(): Session[] {
    return [...this.sessions.values()];
  }

  /** End one session. */
  delete(id: string, reason = 'deleted by client'): void {
    this.get(id).close(reason);
  }

  /** Stop admitting and close every session. */
  closeAll(reason: string): void {
    this.closed = true;
    clearInterval(this.cpuTimer);
    for (const s of this.list()) s.close(reason);
  }
}
