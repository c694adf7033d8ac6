/** Driver vs avatar, frame by frame: how well the avatar's jaw and head yaw follow the driver's (both measured by MediaPipe). */

/** Per frame: mouth opening (inner-lip gap / width) and head yaw (degrees), or null where no face was found. */
export type FaceSeries = ({ opening: number; yawDeg: number } | null)[];

export interface FollowScore {
  /** avatar frame i shows driver frame (i + lag) (mod the driver's length for a looped driver). */
  lag: number;
  /** Frames with a face on both sides. */
  pairs: number;
  /** Pearson correlation of mouth opening. */
  jawR: number;
  /** Pearson correlation of yaw. */
  yawR: number;
  /** RMS of the yaw difference after removing each side's mean (the portrait's own head turn is not the driver's), degrees. */
  yawRmsDeg: number;
  driverYawStd: number;
  /** std of the avatar's opening / the driver's. */
  jawAmplitude: number;
}

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);
const std = (a: number[]) => Math.sqrt(mean(a.map((v) => (v - mean(a)) ** 2)));

function pearson(a: number[], b: number[]): number {
  const ma = mean(a);
  const mb = mean(b);
  let xy = 0;
  let xx = 0;
  let yy = 0;
  for (let i = 0; i < a.length; i++) {
    xy += (a[i]! - ma) * (b[i]! - mb);
    xx += (a[i]! - ma) ** 2;
    yy += (b[i]! - mb) ** 2;
  }
  return xx > 0 && yy > 0 ? xy / Math.sqrt(xx * yy) : Number.NaN;
}

/** Scores the pairing avatar[i] ~ driver[index(i)]. */
export function scoreFollow(driver: FaceSeries, avatar: FaceSeries, index: (i: number) => number | undefined, lag: number): FollowScore {
  const od: number[] = [];
  const oa: number[] = [];
  const yd: number[] = [];
  const ya: number[] = [];
  for (let i = 0; i < avatar.length; i++) {
    const j = index(i);
    const d = j === undefined ? undefined : driver[j];
    const a = avatar[i];
    if (!d || !a || !Number.isFinite(d.opening) || !Number.isFinite(a.opening)) continue;
    od.push(d.opening);
    oa.push(a.opening);
    yd.push(d.yawDeg);
    ya.push(a.yawDeg);
  }
  const md = mean(yd);
  const ma = mean(ya);
  const yawRmsDeg = Math.sqrt(mean(yd.map((v, i) => (v - md - (ya[i]! - ma)) ** 2)));
  return { lag, pairs: od.length, jawR: pearson(od, oa), yawR: pearson(yd, ya), yawRmsDeg, driverYawStd: std(yd), jawAmplitude: std(oa) / std(od) };
}

/** The best-aligned score of an avatar recorded while the driver played in a loop (a fake camera), best jaw correlation. */
export function alignLooped(driver: FaceSeries, avatar: FaceSeries): FollowScore {
  let best: FollowScore | undefined;
  for (let lag = 0; lag < driver.length; lag++) {
    const s = scoreFollow(driver, avatar, (i) => (i + lag) % driver.length, lag);
    if (s.pairs >= avatar.length / 2 && (!best || s.jawR > best.jawR)) best = s;
  }
  return best ?? scoreFollow(driver, avatar, (i) => i % driver.length, 0);
}

/** The best score within +-maxLag frames of an offline render (frame i of both should show the same instant). */
export function alignOffline(driver: FaceSeries, avatar: FaceSeries, maxLag = 3): FollowScore {
  let best: FollowScore | undefined;
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    const s = scoreFollow(driver, avatar, (i) => (i + lag >= 0 && i + lag < driver.length ? i + lag : undefined), lag);
    if (!best || s.jawR > best.jawR) best = s;
  }
  return best!;
}
