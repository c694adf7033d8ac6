/** Critically damped second-order smoothing (a spring with no overshoot) and small shaping helpers. */

/** Position and velocity of one critically damped follower. */
export interface SpringState {
  x: number;
  v: number;
}

/**
 * Advance `s` toward `target` by `dt` s with natural frequency `omega` rad/s (exact solution, stable at any dt);
 * ~90% of a step is reached after 3.9/omega s. Velocity is then limited to +-`maxSpeed` units/s.
 */
export function springStep(s: SpringState, target: number, omega: number, dt: number, maxSpeed = Infinity): void {
  const e = s.x - target;
  const k = s.v + omega * e;
  const ex = Math.exp(-omega * dt);
  s.x = target + (e + k * dt) * ex;
  s.v = (s.v - omega * k * dt) * ex;
  if (s.v > maxSpeed) s.v = maxSpeed;
  else if (s.v < -maxSpeed) s.v = -maxSpeed;
}

/** Hermite smoothstep from 0 at `e0` to 1 at `e1` (e0 > e1 gives a falling step). */
export function smoothstep(e0: number, e1: number, x: number): number {
  const t = Math.max(0, Math.min(1, (x - e0) / (e1 - e0)));
  return t * t * (3 - 2 * t);
}

/** x limited to [lo, hi]. */
export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}
