import type { Config } from '../config.ts';
import { CapacityError, NotFoundError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { PipelineWorkerPool } from '../media/PipelineWorkerPool.ts';
import type { WorkerReference } from '../media/pipelineProtocol.ts';
import { Session } from './Session.ts';

/** Owns every Session by id; admits new ones up to the configured limit. */
export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  /** Offers being negotiated count against capacity too. */
  private pending = 0;
  private closed = false;

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
    if (this.sessions.size + this.pending >= this.config.sessions.max) {
      this.metrics.sessionsRejected.inc({ reason: 'full' });
      throw new CapacityError(`server is full (${this.config.sessions.max} sessions)`, 5);
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
    session.once('close', () => {
      this.sessions.delete(session.id);
      this.metrics.sessionsActive.set(this.sessions.size);
    });
    return created;
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
