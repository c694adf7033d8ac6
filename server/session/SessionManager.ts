import { availableParallelism } from 'node:os';
import type { Config } from '../config.ts';
import { CapacityError, NotFoundError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { PipelineWorkerPool } from '../media/PipelineWorkerPool.ts';
import type { WorkerReference } from '../media/pipelineProtocol.ts';
import { CapacityEstimator } from './CapacityEstimator.ts';
import { OverloadGovernor } from './OverloadGovernor.ts';
import { Session, type SessionInit } from './Session.ts';
import { priorCostMs } from './sessionPrice.ts';

/** How often the overload governor looks at dropped frames, ms. */
const GOVERNOR_WINDOW_MS = 1000;
/** A degraded session renders one frame in this many. */
const DEGRADED_STRIDE = 2;
/** Length of one CPU measurement window, ms. */
const CPU_WINDOW_MS = 2000;
/** Sessions younger than this are starting up (encoder init, JIT): windows with them are not used, ms. */
const WARMUP_MS = 3000;

/** Owns every Session by id; admits new ones up to the configured limit and while their price fits the CPU budget. */
export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  /** Prior CPU cost of each session, ms per second (sessionPrice.ts). */
  private readonly priors = new Map<string, number>();
  /** Offers being negotiated count against capacity too: their number and priors. */
  private pending = 0;
  private pendingPriorMs = 0;
  private closed = false;
  private readonly estimator: CapacityEstimator;
  private readonly governorTimer: NodeJS.Timeout;
  private readonly governor = new OverloadGovernor();
  /** Frames dropped per session at the previous governor window. */
  private readonly droppedSeen = new Map<string, number>();
  private lastCpu = process.cpuUsage();
  private lastCpuAt = performance.now();
  private cpuTimer: NodeJS.Timeout | undefined;
  /** Sessions were opened or closed during the current window: it is not steady. */
  private windowDisturbed = false;

  constructor(
    private readonly config: Config,
    private readonly pool: PipelineWorkerPool,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    // A pool member has its share of the machine's cores; a lone server, its workers plus the main thread.
    const cores = config.pool.member?.cores ?? Math.min(config.renderer.workers + 1, availableParallelism());
    this.estimator = new CapacityEstimator(cores, config.sessions.capacityUtilization);
    this.governorTimer = setInterval(() => this.govern(), GOVERNOR_WINDOW_MS);
    this.governorTimer.unref();
  }

  /** Degrade one, not all: see OverloadGovernor. */
  private govern(): void {
    const wallNow = performance.timeOrigin + performance.now();
    const loads = this.list().map((s) => {
      const dropped = s.framesDropped;
      // A starting session drops a few frames (encoder start, JIT) whatever the load: not overload.
      const delta = wallNow - s.createdAt > WARMUP_MS ? dropped - (this.droppedSeen.get(s.id) ?? dropped) : 0;
      this.droppedSeen.set(s.id, dropped);
      return { id: s.id, createdAt: s.createdAt, droppedDelta: delta, degraded: s.isDegraded };
    });
    for (const id of this.droppedSeen.keys()) if (!this.sessions.has(id)) this.droppedSeen.delete(id);
    const { degrade, restore } = this.governor.step(loads, performance.now());
    if (degrade) {
      const dropped = loads.reduce((a, l) => a + l.droppedDelta, 0);
      this.sessions.get(degrade)?.degrade(DEGRADED_STRIDE, `server overloaded (${dropped} frames dropped across sessions in the last second): newest session first`);
      this.metrics.sessionsDegraded.inc();
    }
    if (restore) this.sessions.get(restore)?.restore();
  }

  /**
   * Start measuring CPU in windows, once the workers are up: a window that saw module loading and model warm-up would
   * be taken for the idle baseline and leave no budget for sessions.
   */
  startMeasuring(): void {
    if (this.cpuTimer) return;
    this.lastCpu = process.cpuUsage();
    this.lastCpuAt = performance.now();
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
    if (!this.windowDisturbed && this.pending === 0 && warm) this.estimator.sample(cpuMsPerS, this.runningPriorMs());
    this.windowDisturbed = false;
  }

  get size(): number {
    return this.sessions.size;
  }

  private runningPriorMs(): number {
    let sum = 0;
    for (const p of this.priors.values()) sum += p;
    return sum;
  }

  /** Start a new session (negotiating its peer, for the peer sources); throws CapacityError when full. */
  async create(init: SessionInit, reference: WorkerReference): Promise<{ session: Session; answerSdp: string | undefined }> {
    if (this.closed) throw new CapacityError('server is shutting down', 5);
    const { video, renderer, sessions } = this.config;
    const plan = Session.plan(init, this.config);
    const { codec } = plan;
    const prior = priorCostMs({ codec, encoder: video.encoder, engine: renderer.engine, width: video.width, height: video.height, fps: video.fps });
    if (this.sessions.size + this.pending >= sessions.max) {
      this.metrics.sessionsRejected.inc({ reason: 'full' });
      throw new CapacityError(`server is full: session limit ${sessions.max} reached`, 5);
    }
    const running = this.runningPriorMs() + this.pendingPriorMs;
    if (!this.estimator.admits(running, prior)) {
      this.metrics.sessionsRejected.inc({ reason: 'capacity' });
      const e = this.estimator;
      const basis = e.measured ? 'measured on the running sessions' : 'bench prior, not measured yet';
      throw new CapacityError(
        `server is full: a new ${codec} session needs about ${Math.round(e.price(prior))} ms of CPU a second (${basis}); ` +
          `${Math.max(0, Math.round(e.budgetMs - e.price(running)))} of ${Math.round(e.budgetMs)} are left`,
        5,
      );
    }
    this.pending++;
    this.pendingPriorMs += prior;
    let created: { session: Session; answerSdp: string | undefined };
    try {
      created = await Session.create({ init, reference, config: this.config, pool: this.pool, metrics: this.metrics, log: this.log }, plan);
    } catch (err) {
      this.metrics.sessionsRejected.inc({ reason: 'bad_offer' });
      throw err;
    } finally {
      this.pending--;
      this.pendingPriorMs -= prior;
    }
    const { session } = created;
    this.sessions.set(session.id, session);
    this.priors.set(session.id, prior);
    this.metrics.sessionsAdmitted.inc();
    this.metrics.sessionsActive.set(this.sessions.size);
    this.windowDisturbed = true;
    session.once('close', () => {
      this.sessions.delete(session.id);
      this.priors.delete(session.id);
      this.windowDisturbed = true;
      this.metrics.sessionsActive.set(this.sessions.size);
    });
    return created;
  }

  /**
   * Sessions admitted at most: `sessions.max`, lowered to how many sessions of the configured codec fit the CPU budget
   * at their current price (VP8 callers are priced higher, so fewer of them fit).
   */
  capacity(): { limit: number; measured: boolean; cpuMsPerSessionS: number; budgetMsPerS: number; usedMsPerS: number } {
    const { video, renderer, sessions } = this.config;
    const prior = priorCostMs({ codec: video.codec, encoder: video.encoder, engine: renderer.engine, width: video.width, height: video.height, fps: video.fps });
    const e = this.estimator;
    const budget = e.budgetMs;
    return {
      limit: Math.min(sessions.max, e.fits(prior)),
      measured: e.measured,
      cpuMsPerSessionS: Math.round(e.price(prior)),
      budgetMsPerS: Number.isFinite(budget) ? Math.round(budget) : -1,
      usedMsPerS: Math.round(e.price(this.runningPriorMs())),
    };
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

  /** Test hook: every render worker burns `ms` of CPU per frame (a CPU spike); 0 ends it. */
  spike(ms: number): void {
    this.pool.spike(ms);
  }

  /** Stop admitting and close every session. */
  closeAll(reason: string): void {
    this.closed = true;
    clearInterval(this.cpuTimer);
    clearInterval(this.governorTimer);
    for (const s of this.list()) s.close(reason);
  }
}
