/** What the governor sees of one session in one window. */
export interface SessionLoad {
  id: string;
  createdAt: number;
  /** Frames dropped for falling behind since the previous window (not those shed on purpose). */
  droppedDelta: number;
  degraded: boolean;
}

/** One step: shed load from `degrade`, or give it back to `restore`. */
export interface GovernorDecision {
  degrade?: string;
  restore?: string;
}

export interface GovernorOptions {
  /** Dropped frames across all sessions in one window that mean overload. */
  overloadDrops: number;
  /** After an action, wait this long to see its effect before the next, ms. */
  settleMs: number;
  /** A degraded session is restored after this long without drops, ms (one session per calm period). */
  calmMs: number;
}

export const DEFAULT_GOVERNOR: GovernorOptions = { overloadDrops: 3, settleMs: 3000, calmMs: 10_000 };

/**
 * Degrade one, not all: when the machine is overloaded anyway (a CPU spike, a noisy neighbour), sessions start dropping
 * frames together. Shedding the newest session's load first (it has had the least of the service; its callers notice
 * least) lets the others keep their rate; the oldest session is never shed. When the spike has passed, the load is
 * given back, the last shed first.
 * Pure: time and drop counts come from the caller.
 */
export class OverloadGovernor {
  private lastActionAt = -Infinity;
  private lastDropAt = -Infinity;
  /** Degraded sessions, in the order they were degraded. */
  private readonly shed: string[] = [];

  constructor(private readonly opts: GovernorOptions = DEFAULT_GOVERNOR) {}

  step(sessions: readonly SessionLoad[], nowMs: number): GovernorDecision {
    const live = new Set(sessions.map((s) => s.id));
    for (let i = this.shed.length - 1; i >= 0; i--) if (!live.has(this.shed[i]!)) this.shed.splice(i, 1);
    const drops = sessions.reduce((a, s) => a + s.droppedDelta, 0);
    if (drops > 0) this.lastDropAt = nowMs;
    if (nowMs - this.lastActionAt < this.opts.settleMs) return {};
    if (drops >= this.opts.overloadDrops) {
      // Shedding is for the others' sake: the last session at full rate (the oldest) is never degraded.
      const full = sessions.filter((s) => !s.degraded).sort((a, b) => b.createdAt - a.createdAt);
      if (full.length < 2) return {};
      const newest = full[0]!;
      this.shed.push(newest.id);
      this.lastActionAt = nowMs;
      return { degrade: newest.id };
    }
    if (this.shed.length > 0 && nowMs - this.lastDropAt >= this.opts.calmMs && nowMs - this.lastActionAt >= this.opts.calmMs) {
      this.lastActionAt = nowMs;
      return { restore: this.shed.pop()! };
    }
    return {};
  }
}
