/**
 * What the demo page exposes as `window.__avatar` for tests and debugging (plain types: no DOM, so the e2e tests
 * import them too).
 */
export type State = 'idle' | 'starting' | 'live' | 'stopping' | 'error';

export interface LiveStats {
  /** Decoded frames per second (browser-side). */
  fps: number;
  framesDecoded: number;
  /** Frames the browser dropped before display. */
  framesDropped: number;
  /** Video bitrate over the last second (kbit/s). */
  kbps: number;
  width: number;
  height: number;
  codec: string | null;
  /** Server-side latency, audio arrival -> frame on the wire (ms), over the last 100 frames. */
  serverLatencyMs: { last: number; p50: number; p95: number } | null;
  /** Dropped frames as the server reports them in `stats` messages. */
  serverDroppedFrames: number | null;
  /** The webcam face tracker, when the camera drives the face: samples/s, landmarker ms, camera -> avatar latency. */
  face?: { rate: number; detectMs: number; found: boolean; latencyMs: { p50: number; p95: number } | null };
}

export interface AvatarDebug {
  state: State;
  stats: LiveStats;
  sessionId: string | null;
  referenceId: string | null;
  error: string | null;
}

/** Viewer page (`/view/{id}`) connection state, as `window.__viewer.state`. */
export type ViewerState =
  /** Asking the server for the session's stream. */
  | 'connecting'
  /** The session does not exist (yet): retrying. */
  | 'waiting'
  /** Frames are being shown. */
  | 'playing'
  /** The connection dropped or was refused: retrying after a pause. */
  | 'reconnecting';

/** One received RTP stream, from the viewer's getStats() `inbound-rtp` entry. */
export interface InboundStreamStats {
  codec: string | null;
  packetsReceived: number;
  packetsLost: number;
  bytesReceived: number;
  /** Mean time a sample waited in the jitter buffer (ms): jitterBufferDelay / jitterBufferEmittedCount. */
  jitterBufferDelayMs: number | null;
}

export interface InboundVideoStats extends InboundStreamStats {
  framesDecoded: number;
  framesDropped: number;
  framesPerSecond: number | null;
  frameWidth: number;
  frameHeight: number;
}

export interface InboundAudioStats extends InboundStreamStats {
  totalSamplesReceived: number;
  /** Samples the decoder invented because packets were missing (PLC); silentConcealedSamples of them were silence. */
  concealedSamples: number;
  silentConcealedSamples: number;
  /** Sum of squared sample levels (0-1) times duration: grows with what the speaker actually plays. */
  totalAudioEnergy: number;
  audioLevel: number;
}

export interface ViewerStats {
  video: InboundVideoStats | null;
  audio: InboundAudioStats | null;
}

/** What the viewer page exposes as `window.__viewer` for tests and debugging. */
export interface ViewerDebug {
  state: ViewerState;
  sessionId: string | null;
  /** WHEP POSTs made so far (the first included). */
  attempts: number;
  /** Why the last attempt failed or ended. */
  lastError: string | null;
  /** Playing muted because the browser refused autoplay with sound (the "click for sound" overlay is up). */
  mutedByAutoplay: boolean;
  /** A getStats() summary of the current connection (both null when not connected). */
  stats(): Promise<ViewerStats>;
}
