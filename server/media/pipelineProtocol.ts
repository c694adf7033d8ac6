import type { EncoderBackend } from './VideoEncoder.ts';
import type { MotionEngineConfig } from '../../engines/motion/createMotionStage.ts';
import type { PipelineControl } from '../../engines/pipeline.ts';
import type { RenderEngineSettings } from '../../engines/render/createRenderEngine.ts';

/** What every pipeline worker is started with. */
export interface PipelineWorkerSettings {
  render: RenderEngineSettings;
  motion: Partial<MotionEngineConfig>;
  encoder: EncoderBackend;
}

/** Video settings a pipeline worker needs for one session. */
export interface WorkerVideoSettings {
  codec: 'h264' | 'vp8';
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
  keyframeIntervalFrames: number;
}

/** A portrait as sent to a worker (structured-cloned once per session). */
export interface WorkerReference {
  id: string;
  width: number;
  height: number;
  rgba: Uint8Array;
  landmarks: Float32Array;
}

/** Messages from the main thread to a pipeline worker. */
export type ToWorker =
  | { type: 'open'; sessionId: string; reference: WorkerReference; video: WorkerVideoSettings; seed: number; maxQueueFrames: number }
  | { type: 'audio'; sessionId: string; pcm: Float32Array }
  | { type: 'control'; sessionId: string; control: PipelineControl }
  | { type: 'keyframe'; sessionId: string }
  /** Render one motion frame in `stride` (1 = every frame): shedding load from this session under overload. */
  | { type: 'stride'; sessionId: string; stride: number }
  /** Test hook: every render in this worker also burns `ms` of CPU (a noisy neighbour); 0 ends it. */
  | { type: 'spike'; ms: number }
  | { type: 'close'; sessionId: string }
  /** End every session, let the frame in progress finish, release the engine, then answer 'stopped'. */
  | { type: 'shutdown' }
  /** Test hook: 'stage' fails this session's next render; 'worker' kills the whole worker thread from it. */
  | { type: 'crash'; sessionId: string; mode: FaultMode };

/** Where an injected fault strikes. */
export type FaultMode = 'stage' | 'worker';

/** One encoded frame and what it cost. */
export interface WorkerFrame {
  type: 'frame';
  sessionId: string;
  index: number;
  /** Start of the audio this frame shows, ms of the session's media clock. */
  audioTimeMs: number;
  keyframe: boolean;
  /** H.264 Annex B or a VP8 frame. */
  data: Uint8Array;
  mouthOpen: number;
  renderMs: number;
  encodeMs: number;
  /** The client timestamp of the face sample in this frame (a live face drives it), ms. */
  faceT?: number;
}

/** Messages from a pipeline worker to the main thread. */
export type FromWorker =
  | { type: 'ready' }
  /** After 'shutdown': nothing runs any more, so the thread can be terminated safely. */
  | { type: 'stopped' }
  /** The worker's render engine counters (sent every few seconds when it has any). */
  | { type: 'engineCounters'; counters: Record<string, number> }
  | { type: 'opened'; sessionId: string; lookaheadMs: number; chunkFrames: number }
  | WorkerFrame
  /** A frame not rendered: `shed` when skipped by the session's stride, else dropped because the session fell behind. */
  | { type: 'dropped'; sessionId: string; index: number; shed: boolean }
  | { type: 'error'; sessionId: string; message: string };
