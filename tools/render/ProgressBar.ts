/**
 * A one-line progress bar on a stream (stderr): redrawn in place on a TTY (at most every 100 ms),
 * otherwise a plain line at each 25% step so logs stay short.
 */
export class ProgressBar {
  private readonly stream: NodeJS.WriteStream;
  private readonly width: number;
  private readonly startedAt = performance.now();
  private lastDrawAt = 0;
  private lastQuarter = -1;
  private drawn = false;

  constructor(stream: NodeJS.WriteStream = process.stderr, width = 30) {
    this.stream = stream;
    this.width = width;
  }

  /** Show `done` of `total` units (`unit` names them, e.g. "frames"). */
  update(done: number, total: number, unit = 'frames'): void {
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const elapsedS = (performance.now() - this.startedAt) / 1000;
    const rate = elapsedS > 0 ? done / elapsedS : 0;
    if (this.stream.isTTY) {
      const now = performance.now();
      if (done < total && now - this.lastDrawAt < 100) return;
      this.lastDrawAt = now;
      const fill = Math.round(frac * this.width);
      const eta = rate > 0 ? (total - done) / rate : 0;
      const text = `[${'#'.repeat(fill)}${'.'.repeat(this.width - fill)}] ${(100 * frac).toFixed(0).padStart(3)}% ${done}/${total} ${unit} ${rate.toFixed(1)}/s eta ${eta.toFixed(0)} s`;
      this.stream.write(`\r${text}\x1b[K`);
      this.drawn = true;
    } else {
      const quarter = Math.floor(frac * 4);
      if (quarter === this.lastQuarter) return;
      this.lastQuarter = quarter;
      this.stream.write(`${(25 * quarter).toString().padStart(3)}% ${done}/${total} ${unit} (${rate.toFixed(1)}/s)\n`);
    }
  }

  /** A status line (moves past the bar first). */
  log(line: string): void {
    this.end();
    this.stream.write(`${line}\n`);
  }

  /** Finish the bar's line. */
  end(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
