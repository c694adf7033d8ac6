/** Frames a second a counter grows by over `ms` of wall time (a healthy session nearby, a viewer). */
export async function measuredFps(frames: () => number, ms = 2000): Promise<number> {
  const frames0 = frames();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return ((frames() - frames0) * 1000) / (performance.now() - t0);
}
