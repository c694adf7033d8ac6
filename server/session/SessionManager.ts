import { availableParallelism } from 'node:os';
import type { Config } from '../config.ts';
import { CapacityError, NotFoundError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { PipelineWorkerPool } from '../media/PipelineWorkerPool.ts';
import type { WorkerReference } from '../media/pipelineProtocol.ts';
import { Session } from './Session.ts';

/** Frames measured before the measured capacity is trusted. */
const MIN_COST_SAMPLES = 50;

/** Owns every Session by id; admits new ones up to the configured limit and the measured capacity. */
export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  /** Offers being negotiated count against capacity too. */
  private pending = 0;
  private closed = false;
  /** Moving average of render + encode time per frame over all sessions, ms. */
  private frameCostMs = 0;
  private costSamples = 0;

  constructor(
    private readonly config: Config,
    private readonly pool: PipelineWorkerPool,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Negotiate a new session; throws CapacityError when full. */
  async create(offerSdp: string, reference: WorkerReference): Promise<{ session: Session; answerSdp: string }> {
    if (this.closed) throw new CapacityError('server is shutting down', 5);
    const { limit, measured } = this.capacity();
    if (this.sessions.size + this.pending >= limit) {
      this.metrics.sessionsRejected.inc({ reason: measured ? 'capacity' : 'full' });
      const why = measured
        ? `measured capacity is ${limit} sessions (render+encode ${this.frameCostMs.toFixed(1)} ms a frame at ${this.config.video.fps} fps)`
        : `session limit ${limit} reached`;
      throw new CapacityError(`server is full: ${why}`, 5);
    }
    this.pending++;
    let created: { session: Session; answerSdp: string };
    try {
      created = await Session.create({ offerSdp, reference, config: this.config, pool: this.pool, metrics: this.metrics, log: this.log });
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
    session.on('frame', (f) => this.observeFrameCost(f.renderMs + f.encodeMs));
    session.once('close', () => {
      this.sessions.delete(session.id);
      this.metrics.sessionsActive.set(this.sessions.size);
    });
    return created;
  }

  private observeFrameCost(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.frameCostMs = this.costSamples === 0 ? ms : this.frameCostMs * 0.98 + ms * 0.02;
    this.costSamples++;
  }

  /**
   * Sessions admitted at most: the configured maximum, lowered by what the workers' cores can render and
   * encode at the frame rate (render+encode time per frame x fps per session <= capacityUtilization of the cores).
   */
  capacity(): { limit: number; measured: boolean; frameCostMs: number } {
    const { sessions, video, renderer } = this.config;
    const frameCostMs = Math.round(this.frameCostMs * 100) / 100;
    if (sessions.capacityUtilization <= 0 || this.costSamples < MIN_COST_SAMPLES || this.frameCostMs <= 0) {
      return { limit: sessions.max, measured: false, frameCostMs };
    }
    const cores = Math.min(renderer.workers, availableParallelism());
    const byCost = Math.max(1, Math.floor((cores * 1000 * sessions.capacityUtilization) / (video.fps * this.frameCostMs)));
    return byCost < sessions.max ? { limit: byCost, measured: true, frameCostMs } : { limit: sessions.max, measured: false, frameCostMs };
  }

  get(id: string): Session {
    const s = this.sessions.get(id);
    if (!s) throw new NotFoundError(`no session ${id}`);
    return s;
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
    for (const s of this.list()) s.close(reason);
  }
}
