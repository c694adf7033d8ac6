/**
 * Sessions the machine can carry, from measured CPU: the process's CPU time per second (all threads: media,
 * workers, encoders) split into an idle baseline and a cost per session, each a moving average over windows
 * in which the session count did not change. Wall-clock render/encode times are not used: they grow with
 * scheduling contention and would under-estimate capacity exactly when the machine is busy.
 */
export class CapacityEstimator {
  /** CPU of the process with no sessions, ms per second. */
  private idleMs = 0;
  private idleSamples = 0;
  /** CPU per session, ms per second. */
  private perSessionMs = 0;
  private sessionSamples = 0;

  /**
   * @param cores CPU cores the process may use.
   * @param utilization share of those cores to fill (0 disables the estimate).
   * @param minSamples steady windows with sessions needed before the estimate is used.
   */
  constructor(
    private readonly cores: number,
    private readonly utilization: number,
    private readonly minSamples = 3,
  ) {}

  /** One steady window: `cpuMsPerS` of CPU used per second while `sessions` were streaming the whole time. */
  sample(cpuMsPerS: number, sessions: number): void {
    if (!Number.isFinite(cpuMsPerS) || cpuMsPerS < 0) return;
    if (sessions === 0) {
      this.idleMs = this.idleSamples++ === 0 ? cpuMsPerS : 0.8 * this.idleMs + 0.2 * cpuMsPerS;
      return;
    }
    const per = Math.max(0, cpuMsPerS - this.idleMs) / sessions;
    this.perSessionMs = this.sessionSamples++ === 0 ? per : 0.8 * this.perSessionMs + 0.2 * per;
  }

  /** Measured CPU per session, ms per second (0 until measured). */
  get sessionCostMs(): number {
    return this.sessionSamples > 0 ? this.perSessionMs : 0;
  }

  /** Session limit: `max`, lowered to what the measured cost fits in the CPU budget. */
  limit(max: number): { limit: number; measured: boolean } {
    if (this.utilization <= 0 || this.sessionSamples < this.minSamples || this.perSessionMs <= 0) return { limit: max, measured: false };
    const budget = this.cores * 1000 * this.utilization - this.idleMs;
    const fit = Math.max(1, Math.floor(budget / this.perSessionMs));
    return fit < max ? { limit: fit, measured: true } : { limit: max, measured: false };
  }
}
