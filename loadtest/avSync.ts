/**
 * A/V sync measured from content, as a viewer experiences it: when each sound starts in the decoded audio and
 * when the mouth visibly opens in the decoded video, both placed on the sender's NTP clock (RTCP sender
 * reports), paired and summarised. Pure functions; the clients collect the data (WhepViewer, StreamingVideoDecoder).
 */
import { percentileOfSorted } from '../engines/util/percentile.ts';

// ------------------------------------------------------------------ audio

/** Decoded audio placed by its RTP timestamp. */
export interface AudioPacketPcm {
  rtpTimestamp: number;
  /** Int16 full scale 32768, or Float32 in [-1, 1]. */
  pcm: Int16Array | Float32Array;
}

/** RMS level of consecutive windows of `hop` samples, from RTP timestamp `firstRtp`. */
export interface AudioLevels {
  firstRtp: number;
  hop: number;
  /** Full scale 1. Windows no packet covered are 0. */
  rms: Float32Array;
}

/**
 * Levels of the received audio on its RTP timeline (packets in any order; gaps stay silent).
 * `hop` 48 samples at 48 kHz = 1 ms, well below the 20 ms packet.
 */
export function audioLevels(packets: readonly AudioPacketPcm[], hop = 48): AudioLevels {
  if (packets.length === 0) return { firstRtp: 0, hop, rms: new Float32Array(0) };
  // The earliest packet by signed RTP distance from the first one received (wrap-safe).
  const ref = packets[0]!.rtpTimestamp;
  let minDelta = 0;
  let maxEnd = 0;
  for (const p of packets) {
    const d = (p.rtpTimestamp - ref) | 0;
    minDelta = Math.min(minDelta, d);
    maxEnd = Math.max(maxEnd, d + p.pcm.length);
  }
  const windows = Math.ceil((maxEnd - minDelta) / hop);
  const sum = new Float64Array(windows);
  for (const p of packets) {
    const start = ((p.rtpTimestamp - ref) | 0) - minDelta;
    const scale = p.pcm instanceof Int16Array ? 1 / 32768 : 1;
    for (let i = 0; i < p.pcm.length; i++) {
      const v = p.pcm[i]! * scale;
      sum[Math.floor((start + i) / hop)] += v * v;
    }
  }
  const rms = new Float32Array(windows);
  for (let w = 0; w < windows; w++) rms[w] = Math.sqrt(sum[w]! / hop);
  return { firstRtp: (ref + minDelta) >>> 0, hop, rms };
}

export interface AudioOnsetOptions {
  /** A window is sound when its RMS reaches this share of the loud level (the 99th percentile); default 0.1 (-20 dB). */
  relativeLevel?: number;
  /** ...and at least this RMS (default 0.003, about -50 dBFS: codec noise in silence stays below). */
  minLevel?: number;
  /** An onset needs this much silence before it, ms (default 300). */
  minSilenceMs?: number;
  sampleRate?: number;
}

/** The sound threshold audioOnsets() uses for these levels. */
export function soundThreshold(levels: AudioLevels, opts: AudioOnsetOptions = {}): number {
  const { relativeLevel = 0.1, minLevel = 0.003 } = opts;
  if (levels.rms.length === 0) return minLevel;
  const sorted = Float32Array.from(levels.rms).sort();
  return Math.max(minLevel, relativeLevel * percentileOfSorted(sorted, 0.99));
}

/** RTP timestamps where sound starts after at least `minSilenceMs` of silence (resolution: one window). */
export function audioOnsets(levels: AudioLevels, opts: AudioOnsetOptions = {}): number[] {
  const { minSilenceMs = 300, sampleRate = 48_000 } = opts;
  const threshold = soundThreshold(levels, opts);
  const minSilentWindows = Math.ceil((minSilenceMs * sampleRate) / 1000 / levels.hop);
  const onsets: number[] = [];
  let silent = 0;
  for (let w = 0; w < levels.rms.length; w++) {
    if (levels.rms[w]! >= threshold) {
      if (silent >= minSilentWindows) onsets.push((levels.firstRtp + w * levels.hop) >>> 0);
      silent = 0;
    } else {
      silent++;
    }
  }
  return onsets;
}

/** Decoded audio with its arrival time (performance.now() ms). */
export interface ArrivedAudio {
  arrivalMs: number;
  pcm: Int16Array | Float32Array;
}

/**
 * When the audio arriving from `fromMs` on falls silent for good: the end of the last sample at or above
 * `level` (arrival + its position in the packet), or `fromMs` when nothing loud arrives after it.
 */
export function audioSilentAt(packets: readonly ArrivedAudio[], fromMs: number, level: number, sampleRate = 48_000): number {
  let silentAt = fromMs;
  for (const p of packets) {
    const endMs = p.arrivalMs + (p.pcm.length * 1000) / sampleRate;
    if (endMs <= fromMs) continue;
    const scale = p.pcm instanceof Int16Array ? 1 / 32768 : 1;
    for (let i = p.pcm.length - 1; i >= 0; i--) {
      if (Math.abs(p.pcm[i]! * scale) >= level) {
        silentAt = Math.max(silentAt, p.arrivalMs + ((i + 1) * 1000) / sampleRate);
        break;
      }
    }
  }
  return silentAt;
}

// ------------------------------------------------------------------ video

/** A pixel rectangle [x0, x1) x [y0, y1). */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** MediaPipe face-mesh ids of the lips: inner (13/14 top/bottom, 78/308 corners) and outer (0/17, 61/291). */
export const MOUTH_LANDMARK_IDS = [13, 14, 78, 308, 0, 17, 61, 291] as const;

/** The box around the lips of a portrait's landmarks (`[[x, y] x 468]`, output-frame px), grown by `marginPx`, inside the frame. */
export function mouthBox(landmarks: readonly (readonly number[])[], width: number, height: number, marginPx = 4): Box {
  const xs = MOUTH_LANDMARK_IDS.map((i) => landmarks[i]?.[0]);
  const ys = MOUTH_LANDMARK_IDS.map((i) => landmarks[i]?.[1]);
  if (![...xs, ...ys].every((v) => typeof v === 'number' && Number.isFinite(v))) throw new TypeError('landmarks lack the lip points (MediaPipe 468-point topology expected)');
  const box = {
    x0: Math.max(0, Math.floor(Math.min(...(xs as number[])) - marginPx)),
    y0: Math.max(0, Math.floor(Math.min(...(ys as number[])) - marginPx)),
    x1: Math.min(width, Math.ceil(Math.max(...(xs as number[])) + marginPx)),
    y1: Math.min(height, Math.ceil(Math.max(...(ys as number[])) + marginPx)),
  };
  if (box.x1 <= box.x0 || box.y1 <= box.y0) throw new RangeError(`mouth box is empty [box:${JSON.stringify(box)}]`);
  return box;
}

/** A copy of the luma inside `box` (row-major, box width). */
export function cropLuma(picture: { luma: Uint8Array; stride: number }, box: Box): Uint8Array {
  const w = box.x1 - box.x0;
  const out = new Uint8Array(w * (box.y1 - box.y0));
  for (let y = box.y0; y < box.y1; y++) out.set(picture.luma.subarray(y * picture.stride + box.x0, y * picture.stride + box.x1), (y - box.y0) * w);
  return out;
}

/** Luma below which a mouth-box pixel counts as open cavity. */
export interface MouthReference {
  darkLevel: number;
}

/**
 * From crops of the mouth at rest: the cavity threshold sits below the darkest 1% of resting pixels (the lip
 * line and corners) by `marginLuma`. A threshold on absolute darkness, not a difference from the rest picture,
 * so the head's idle sway does not read as opening.
 */
export function mouthRestReference(restCrops: readonly Uint8Array[], marginLuma = 10): MouthReference {
  if (restCrops.length === 0) throw new RangeError('no rest crops');
  const histogram = new Float64Array(256);
  let n = 0;
  for (const crop of restCrops) {
    for (const v of crop) histogram[v]!++;
    n += crop.length;
  }
  let seen = 0;
  let p1 = 0;
  for (; p1 < 256; p1++) {
    seen += histogram[p1]!;
    if (seen >= 0.01 * n) break;
  }
  return { darkLevel: p1 - marginLuma };
}

/** Share of the crop's pixels darker than the reference's cavity level: 0 closed, ~0.3 wide open (default portrait). */
export function mouthOpening(crop: Uint8Array, ref: MouthReference): number {
  let dark = 0;
  for (const v of crop) if (v < ref.darkLevel) dark++;
  return crop.length > 0 ? dark / crop.length : 0;
}

/** Share of pixels that changed by more than `delta` between two crops of the same box: 0 when the mouth is still. */
export function changedShare(a: Uint8Array, b: Uint8Array, delta = 20): number {
  if (a.length !== b.length) throw new RangeError(`crop sizes differ [a:${a.length}, b:${b.length}]`);
  let changed = 0;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) > delta) changed++;
  return a.length > 0 ? changed / a.length : 0;
}

/** One decoded frame's mouth: its time, opening, and change from the frame before. */
export interface MouthSample {
  /** ms on whichever clock the caller chose (sender NTP for sync, arrival for latency). */
  t: number;
  open: number;
  change: number;
}

export interface MouthOnsetOptions {
  /** Onset where the opening crosses rest + this share of (open level - rest); default 0.2. */
  relativeThreshold?: number;
  /** The mouth must have been below half the threshold this long before an onset, ms (default 300). */
  minRestMs?: number;
}

/**
 * Times the mouth starts to open, each interpolated between the two frames that straddle the threshold (a
 * sub-frame estimate of the crossing; a viewer sees the opened frame at the later of the two). Samples in time order.
 */
export function mouthOnsets(samples: readonly MouthSample[], opts: MouthOnsetOptions = {}): number[] {
  const { relativeThreshold = 0.2, minRestMs = 300 } = opts;
  if (samples.length < 2) return [];
  const sorted = samples.map((s) => s.open).sort((a, b) => a - b);
  const rest = percentileOfSorted(sorted, 0.1);
  const open = percentileOfSorted(sorted, 0.97);
  if (!(open > rest)) return [];
  const threshold = rest + relativeThreshold * (open - rest);
  const rearm = rest + (relativeThreshold / 2) * (open - rest);
  const onsets: number[] = [];
  // Armed once the mouth has rested below `rearm` for minRestMs; an onset disarms it.
  let armed = false;
  let restRunStart: number | null = null;
  for (let i = 0; i < samples.length; i++) {
    const b = samples[i]!;
    const a = samples[i - 1];
    if (a && armed && a.open < threshold && b.open >= threshold) {
      onsets.push(a.t + ((threshold - a.open) / (b.open - a.open)) * (b.t - a.t));
      armed = false;
    }
    if (b.open < rearm) {
      restRunStart ??= b.t;
      if (b.t - restRunStart >= minRestMs) armed = true;
    } else {
      restRunStart = null;
    }
  }
  return onsets;
}

export interface RestOptions {
  /** At rest: opening at most this (e.g. rest + 5% of the open range, from mouthOpenLevels). */
  maxOpen: number;
  /** ...and the next frame's changed share at most this per frame interval (default 0.005: the mouth has stopped moving). */
  maxChange?: number;
  /** Frame interval, ms (default 40): a frame arriving after a gap (a clear's glide is sent at once, then the stream
   * resumes at its pace) is compared with one several intervals older, over which the head has kept moving. */
  frameMs?: number;
}

/** Rest and open levels of a mouth series (10th and 97th percentile of the opening). */
export function mouthOpenLevels(samples: readonly MouthSample[]): { rest: number; open: number } {
  const sorted = samples.map((s) => s.open).sort((a, b) => a - b);
  return { rest: percentileOfSorted(sorted, 0.1), open: percentileOfSorted(sorted, 0.97) };
}

/**
 * Time of the first sample at or after `fromT` from which the mouth stays at rest: closed, and every later frame
 * unchanged from the one before it (so a frame counts from when it is shown, not one frame later). Null if it
 * never settles. Samples in time order.
 */
export function restFrom(samples: readonly MouthSample[], fromT: number, opts: RestOptions): number | null {
  const maxChange = opts.maxChange ?? 0.005;
  const frameMs = opts.frameMs ?? 40;
  let settledAt: number | null = null;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    if (s.t < fromT) continue;
    const next = samples[i + 1];
    const atRest = s.open <= opts.maxOpen && (next === undefined || next.change <= maxChange * Math.max(1, (next.t - s.t) / frameMs));
    if (!atRest) settledAt = null;
    else settledAt ??= s.t;
  }
  return settledAt;
}

// ------------------------------------------------------------------ pairing and statistics

export interface OnsetPair {
  audioMs: number;
  mouthMs: number;
  /** mouth - audio: positive when the mouth opens after the sound starts. */
  offsetMs: number;
}

export interface PairingOptions {
  /** Earliest mouth onset paired with a sound, relative to it (ms, default -200: the mouth may lead). */
  earliestMs?: number;
  /** Latest (ms, default +300). */
  latestMs?: number;
}

/** Pairs each audio onset with the first unused mouth onset inside [audio + earliest, audio + latest]. */
export function pairOnsets(audioMs: readonly number[], mouthMs: readonly number[], opts: PairingOptions = {}): { pairs: OnsetPair[]; unmatchedAudio: number } {
  const { earliestMs = -200, latestMs = 300 } = opts;
  const mouth = [...mouthMs].sort((a, b) => a - b);
  const pairs: OnsetPair[] = [];
  let next = 0;
  let unmatchedAudio = 0;
  for (const a of [...audioMs].sort((x, y) => x - y)) {
    while (next < mouth.length && mouth[next]! < a + earliestMs) next++;
    if (next < mouth.length && mouth[next]! <= a + latestMs) {
      pairs.push({ audioMs: a, mouthMs: mouth[next]!, offsetMs: mouth[next]! - a });
      next++;
    } else {
      unmatchedAudio++;
    }
  }
  return { pairs, unmatchedAudio };
}

export interface OffsetStats {
  count: number;
  mean: number;
  median: number;
  /** 95th percentile of |offset|. */
  p95Abs: number;
  min: number;
  max: number;
}

export function offsetStats(offsetsMs: readonly number[]): OffsetStats | null {
  if (offsetsMs.length === 0) return null;
  const sorted = [...offsetsMs].sort((a, b) => a - b);
  const abs = sorted.map(Math.abs).sort((a, b) => a - b);
  return {
    count: sorted.length,
    mean: sorted.reduce((s, v) => s + v, 0) / sorted.length,
    median: percentileOfSorted(sorted, 0.5),
    p95Abs: percentileOfSorted(abs, 0.95),
    min: sorted[0]!,
    max: sorted.at(-1)!,
  };
}

/** Least-squares slope dy/dx; null with fewer than two distinct x. */
export function linearSlope(points: readonly { x: number; y: number }[]): number | null {
  const n = points.length;
  if (n < 2) return null;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    sxx += (p.x - mx) ** 2;
    sxy += (p.x - mx) * (p.y - my);
  }
  return sxx > 0 ? sxy / sxx : null;
}
