/** Driver vs avatar, frame by frame: how well the avatar's jaw and head yaw follow the driver's (both measured by MediaPipe). */
import { headAnglesFromMatrix } from '../../engines/face/mediaPipePose.ts';
import type { FaceMeasurement } from '../measure/FaceMeasurer.ts';
import { mean, std } from '../real/metrics.ts';
import { pearson } from '../scoring.ts';

/** Per frame: mouth opening (inner-lip gap / width) and head yaw (degrees), or null where no face was found. */
export type FaceSeries = ({ opening: number; yawDeg: number } | null)[];

/** The series of a measured video. */
export function faceSeriesOf(frames: readonly FaceMeasurement[]): FaceSeries {
  return frames.map((f) => (f.found ? { opening: f.opening, yawDeg: headAnglesFromMatrix(f.matrix).yawDeg } : null));
}

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
