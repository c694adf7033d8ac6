// Worker thread: hosts the pipelines and video encoders of many sessions, so rendering and
// encoding never run on the thread that handles ICE/DTLS/RTP.
import { parentPort } from 'node:worker_threads';
import { AvatarPipeline } from '../../engines/pipeline.ts';
import { WarpRenderer } from '../../engines/render/WarpRenderer.ts';
import type { MotionFrame } from '../../engines/types.ts';
import { VideoEncoder } from './VideoEncoder.ts';
import type { FromWorker, ToWorker } from './pipelineProtocol.ts';

const port = parentPort;
if (!port) throw new Error('pipelineWorker must run in a worker thread');

interface WorkerSession {
  id: string;
  pipeline: AvatarPipeline;
  encoder: VideoEncoder;
  /** Motion frames waiting to render, oldest first, at most maxQueueFrames. */
  queue: MotionFrame[];
  maxQueueFrames: number;
  fps: number;
  ready: boolean;
  crashRequested: boolean;
}

const renderer = new WarpRenderer();
const sessions = new Map<string, WorkerSession>();
/** Sessions in round-robin order for the frame loop. */
let order: string[] = [];
let cursor = 0;
let looping = false;

function post(msg: FromWorker, transfer?: ArrayBuffer[]): void {
  port!.postMessage(msg, transfer ?? []);
}

function fail(s: WorkerSession, err: unknown): void {
  post({ type: 'error', sessionId: s.id, message: err instanceof Error ? err.message : String(err) });
  closeSession(s.id);
}

function closeSession(id: string): void {
  const s = sessions.get(id);
  if (!s) return;
  sessions.delete(id);
  order = order.filter((x) => x !== id);
  s.encoder.close();
  const stillUsed = [...sessions.values()].some((o) => o.pipeline.reference.id === s.pipeline.reference.id);
  if (!stillUsed) renderer.release(s.pipeline.reference.id);
}

async function openSession(msg: Extract<ToWorker, { type: 'open' }>): Promise<void> {
  const { sessionId, reference, video } = msg;
  const pipeline = new AvatarPipeline({
    fps: video.fps,
    seed: msg.seed,
    renderer,
    reference: {
      id: reference.id,
      image: { width: reference.width, height: reference.height, data: reference.rgba },
      landmarks: reference.landmarks,
    },
  });
  const encoder = new VideoEncoder({
    codec: video.codec,
    width: video.width,
    height: video.height,
    fps: video.fps,
    bitrateKbps: video.bitrateKbps,
    keyframeIntervalFrames: video.keyframeIntervalFrames,
  });
  const s: WorkerSession = { id: sessionId, pipeline, encoder, queue: [], maxQueueFrames: msg.maxQueueFrames, fps: video.fps, ready: false, crashRequested: false };
  sessions.set(sessionId, s);
  order.push(sessionId);
  try {
    await pipeline.prepare();
  } catch (err) {
    fail(s, err);
    return;
  }
  s.ready = true;
  post({ type: 'opened', sessionId, lookaheadMs: pipeline.lookaheadMs });
}

function pushAudio(s: WorkerSession, pcm: Float32Array): void {
  const frames = s.pipeline.pushAudio(pcm);
  for (const f of frames) {
    s.queue.push(f);
    // Drop the oldest: a late frame is worth less than a fresh one, and queues stay bounded.
    while (s.queue.length > s.maxQueueFrames) {
      const dropped = s.queue.shift()!;
      post({ type: 'dropped', sessionId: s.id, index: dropped.index });
    }
  }
  if (frames.length > 0) void frameLoop();
}

function nextReadySession(): WorkerSession | undefined {
  for (let i = 0; i < order.length; i++) {
    const s = sessions.get(order[(cursor + i) % order.length]!);
    if (s && s.ready && s.queue.length > 0) {
      cursor = (cursor + i + 1) % Math.max(order.length, 1);
      return s;
    }
  }
  return undefined;
}

async function renderAndEncode(s: WorkerSession, frame: MotionFrame): Promise<void> {
  if (s.crashRequested) throw new Error('injected worker crash');
  const t0 = performance.now();
  const image = await s.pipeline.render(frame);
  const t1 = performance.now();
  const encoded = await s.encoder.encode(image.data, Math.round((frame.index * 1e6) / s.fps));
  const t2 = performance.now();
  if (!sessions.has(s.id)) return;
  const data = encoded.data;
  post(
    {
      type: 'frame',
      sessionId: s.id,
      index: frame.index,
      audioTimeMs: frame.audioTimeMs,
      keyframe: encoded.keyframe,
      data,
      mouthOpen: frame.mouthOpen,
      renderMs: t1 - t0,
      encodeMs: t2 - t1,
    },
    data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? [data.buffer as ArrayBuffer] : undefined,
  );
}

/** Renders queued frames of all sessions in round-robin order until every queue is empty. */
async function frameLoop(): Promise<void> {
  if (looping) return;
  looping = true;
  try {
    for (let s = nextReadySession(); s; s = nextReadySession()) {
      const frame = s.queue.shift()!;
      try {
        await renderAndEncode(s, frame);
      } catch (err) {
        if (s.crashRequested) throw err; // a real crash: let the thread die so the pool's recovery path runs
        fail(s, err);
      }
    }
  } finally {
    looping = false;
  }
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'open') {
    void openSession(msg);
    return;
  }
  const s = sessions.get(msg.sessionId);
  if (!s) return; // closed meanwhile: late messages are expected and harmless
  try {
    switch (msg.type) {
      case 'audio':
        pushAudio(s, msg.pcm);
        break;
      case 'control':
        s.pipeline.control(msg.control);
        if (msg.control.type === 'clear') s.queue.length = 0;
        break;
      case 'keyframe':
        s.encoder.requestKeyframe();
        break;
      case 'close':
        closeSession(s.id);
        break;
      case 'crash':
        s.crashRequested = true;
        break;
    }
  } catch (err) {
    fail(s, err);
  }
});
