/**
 * What a session costs in CPU before anything is measured: priors from `npm run bench` on the 2-core development
 * machine (512x512, per frame): learned motion 0.4 ms, warp render 3.3 ms, encode (RGBA in) with libav H.264 2.0 ms and
 * VP8 3.0 ms (priced at its p95, 4 ms: a burst of 6 VP8 sessions at 3 ms got one degraded), with webcodecs H.264 2.5 ms and VP8 15.4 ms, Opus decode + resample 0.3 ms; plus about 4 ms a frame of work outside those stages (werift RTP, SRTP and RTCP, message
 * passing to the workers, the event loop: `npm run loadtest -- --sessions 5` measured 265 ms of server CPU a second per
 * H.264 session). Admission scales them by the ratio measured on the running sessions (CapacityEstimator).
 */
export interface SessionShape {
  codec: 'h264' | 'vp8';
  /** The encoder backend ('auto' before it is resolved is priced as the slower webcodecs). */
  encoder: 'libav' | 'webcodecs' | 'auto';
  engine: 'warp' | 'neural';
  width: number;
  height: number;
  fps: number;
}

const MS_PER_FRAME = {
  motion: 0.4,
  audioIn: 0.3,
  media: 4,
  /** Scaled by pixels / 512². */
  warp: 3.3,
} as const;

const ENCODE_MS_PER_FRAME = {
  libav: { h264: 2.0, vp8: 4.0 },
  webcodecs: { h264: 2.5, vp8: 15.4 },
} as const;

/** CPU a session is expected to use, ms per second (before any measurement). */
export function priorCostMs({ codec, encoder, engine, width, height, fps }: SessionShape): number {
  const area = (width * height) / (512 * 512);
  // The neural engine renders on the accelerator: its CPU share is the encode and the media path.
  const render = engine === 'warp' ? MS_PER_FRAME.warp * area : 0;
  const encode = ENCODE_MS_PER_FRAME[encoder === 'libav' ? 'libav' : 'webcodecs'][codec] * area;
  return (MS_PER_FRAME.motion + MS_PER_FRAME.audioIn + MS_PER_FRAME.media + render + encode) * fps;
}
