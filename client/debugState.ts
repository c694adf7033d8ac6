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
}

export interface AvatarDebug {
  state: State;
  stats: LiveStats;
  sessionId: string | null;
  referenceId: string | null;
  error: string | null;
}
