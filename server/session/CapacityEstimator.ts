/**
 * The CPU budget of the process and what its sessions cost. Each session has a price: its prior cost (sessionPrice.ts,
 * from the bench) times a ratio measured on the running sessions: the process's CPU time per second (all threads:
 * media, workers, encoders), less an idle baseline, over the sum of the running sessions' priors, as a moving average
 * over windows in which the session set did not change. So a VP8 session is priced about three H.264 ones before
 * anything is measured, and both follow what this machine really does once it is. Wall-clock render/encode times
 * are not used: they grow with scheduling contention and would under-estimate capacity exactly when the machine is busy.
 */
export class CapacityEstimator {
  /** CPU of the process with no sessions, ms per second. */
  private idleMs = 0;
  private idleSamples = 0;
  /** Measured CPU over prior CPU of the running sessions. */
  private ratio = 1;
  private ratioSamples = 0;

  /**
   * @param cores CPU cores the process may use.
   * @param utilization share of those cores to fill (0 disables pricing: only the session limit applies).
   * @param minSamples steady windows with sessions needed before the measured ratio replaces the priors.
   */
  constructor(
    private readonly cores: number,
    private readonly utilization: number,
    private readonly minSamples = 3,
  ) {}

  /** One steady window: `cpuMsPerS` of CPU used per second while sessions whose priors sum to `priorMsPerS` ran throughout. */
  sample(cpuMsPerS: number, priorMsPerS: number): void {
    if (!Number.isFinite(cpuMsPerS) || cpuMsPerS < 0 || !Number.isFinite(priorMsPerS) || priorMsPerS < 0) return;
    if (priorMsPerS === 0) {
      // Idle CPU is only ever overestimated (start-up, GC, a burst of requests): follow it down at once, up slowly.
      this.idleMs = this.idleSamples++ === 0 || cpuMsPerS < this.idleMs ? cpuMsPerS : 0.8 * this.idleMs + 0.2 * cpuMsPerS;
      return;
    }
    const r = Math.max(0.05, Math.max(0, cpuMsPerS - this.idleMs) / priorMsPerS);
    this.ratio = this.ratioSamples++ === 0 ? r : 0.8 * this.ratio + 0.2 * r;
  }

  /** Whether the priors are scaled by a measurement yet. */
  get measured(): boolean {
    return this.ratioSamples >= this.minSamples;
  }

  /** What a session with this prior is expected to cost here, ms of CPU per second. */
  price(priorMs: number): number {
    return priorMs * (this.measured ? this.ratio : 1);
  }

  /** CPU the sessions may use, ms per second (Infinity when pricing is off). */
  get budgetMs(): number {
    return this.utilization > 0 ? this.cores * 1000 * this.utilization - this.idleMs : Infinity;
  }

  /** Whether a session with prior `newPriorMs` fits next to sessions whose priors sum to `runningPriorMs`. */
  admits(runningPriorMs: number, newPriorMs: number): boolean {
    // The first session is always admitted: refusing it would make the server useless, not safe.
    if (runningPriorMs === 0) return true;
    return this.price(runningPriorMs + newPriorMs) <= this.budgetMs;
  }

  /** Sessions of prior `priorMs` that fit in the budget in all (at least one). */
  fits(priorMs: number): number {
    return this.utilization > 0 ? Math.max(1, Math.floor(this.budgetMs / this.price(priorMs))) : Infinity;
  }
}
