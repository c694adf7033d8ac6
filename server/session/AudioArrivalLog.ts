/**
 * Remembers when each stretch of session audio arrived, so a frame's latency can be measured
 * from the arrival of the last audio it shows. Fixed-size ring, oldest entries overwritten.
 */
export class AudioArrivalLog {
  private readonly endMs: Float64Array;
  private readonly arrivalMs: Float64Array;
  private head = 0;
  private count = 0;

  constructor(capacity = 512) {
    this.endMs = new Float64Array(capacity);
    this.arrivalMs = new Float64Array(capacity);
  }

  /** Audio up to `audioEndMs` (media clock) arrived at wall time `arrivalMs`. */
  record(audioEndMs: number, arrivalMs: number): void {
    this.endMs[this.head] = audioEndMs;
    this.arrivalMs[this.head] = arrivalMs;
    this.head = (this.head + 1) % this.endMs.length;
    this.count = Math.min(this.count + 1, this.endMs.length);
  }

  /** Wall time at which audio time `audioMs` had arrived, or undefined if it is older than the log. */
  arrivalOf(audioMs: number): number | undefined {
    const cap = this.endMs.length;
    let found: number | undefined;
    // Walk back from the newest entry to the oldest one that still covers audioMs.
    for (let i = 1; i <= this.count; i++) {
      const j = (this.head - i + cap) % cap;
      if (this.endMs[j]! >= audioMs) found = this.arrivalMs[j];
      else break;
    }
    return found;
  }
}
