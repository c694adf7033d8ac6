/** Ctrl-C: stop the current run (and a sweep) early, still printing what was measured. */
export class StopSignal {
  requested = false;
  private wakers = new Set<() => void>();
  request(): void {
    this.requested = true;
    for (const w of this.wakers) w();
  }
  sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const done = (): void => {
        clearTimeout(t);
        this.wakers.delete(done);
        r();
      };
      const t = setTimeout(done, Math.max(0, ms));
      this.wakers.add(done);
    });
  }
}
