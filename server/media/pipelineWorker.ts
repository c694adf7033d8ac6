// Worker thread: hosts the pipelines and video encoders of many sessions, so rendering and
// encoding never run on the thread that handles ICE/DTLS/RTP.
import { parentPort, workerData } from 'node:worker_threads';
import { AvatarPipeline } from '../../engines/pipeline.ts';
import { createRenderEngine } from '../../engines/render/createRenderEngine.ts';
import type { MotionFrame } from '../../engines/types.ts';
import type { VideoFrameEncoder } from './VideoEncoder.ts';
import { loadVideoEncoderFactory } from './videoEncoderFactory.ts';
import type { FaultMode, FromWorker, PipelineWorkerSettings, ToWorker } from './pipelineProtocol.ts';

const port = parentPort;
if (!port) throw new Error('pipelineWorker must run in a worker thread');
const settings = (workerData as { data: PipelineWorkerSettings }).data;

interface WorkerSession {
  id: string;
  referenceId: string;
  pipeline: AvatarPipeline | undefined;
  encoder: VideoFrameEncoder;
  /** Motion frames waiting to render, oldest first, bounded by maxQueue. */
  queue: MotionFrame[];
  maxQueue: number;
  fps: number;
  /** Test hook: a fault to inject at the next render. */
  fault: FaultMode | undefined;
  /** Audio that arrived while the pipeline was being built; replayed in order once it exists. */
  pendingAudio: Float32Array[] | undefined;
  /** Render one frame in this many (load shedding); the others are skipped and reported as shed. */
  stride: number;
}

/** Test hook: extra CPU burnt per rendered frame, ms (a noisy neighbour). */
let spikeMs = 0;

/** Audio held while a pipeline is being built: 5 s of 20 ms chunks. More is refused (the session fails). */
const MAX_PENDING_AUDIO_CHUNKS = 250;

const engine = await createRenderEngine(settings.render);
const createEncoder = await loadVideoEncoderFactory(settings.encoder);
/** Portraits no session uses, most recent last; beyond IDLE_PORTRAITS the oldest is released. */
const idlePortraits: string[] = [];
/** Idle portraits kept prepared, so a caller who reconnects does not pay for preparation (ReferenceNet) again. */
const IDLE_PORTRAITS = 8;
const sessions = new Map<string, WorkerSession>();
/** Sessions in round-robin order for the frame loop. */
let order: string[] = [];
let cursor = 0;
let looping = false;
/** Resolves when the frame loop in progress ends. */
let loopDone: Promise<void> = Promise.resolve();
let stopping = false;
/** Pipelines being built or disposed: model loads and releases that shutdown must let finish. */
const inFlight = new Set<Promise<unknown>>();

function track<T>(work: Promise<T>): Promise<T> {
  inFlight.add(work);
  const done = () => inFlight.delete(work);
  work.then(done, done);
  return work;
}

function post(msg: FromWorker, transfer?: ArrayBuffer[]): void {
  port!.postMessage(msg, transfer ?? []);
}

function fail(s: WorkerSession, err: unknown): void {
  post({ type: 'error', sessionId: s.id, message: err instanceof Error ? err.message : String(err) });
  void closeSession(s.id);
}

function closeSession(id: string): Promise<void> {
  const s = sessions.get(id);
  if (!s) return Promise.resolve();
  sessions.delete(id);
  order = order.filter((x) => x !== id);
  s.encoder.close();
  const disposed = track(s.pipeline?.dispose() ?? Promise.resolve());
  if (![...sessions.values()].some((o) => o.referenceId === s.referenceId)) {
    idlePortraits.push(s.referenceId);
    while (idlePortraits.length > IDLE_PORTRAITS) engine.release(idlePortraits.shift()!);
  }
  return disposed;
}

/**
 * Ends everything this thread runs, then says so. The pool terminates the thread only after that: a terminate that
 * lands inside a native call (node-av's encoder, onnxruntime) aborts the whole process ("FATAL ERROR:
 * Error::ThrowAsJavaScriptException napi_throw").
 */
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  for (const id of [...sessions.keys()]) void closeSession(id);
  await loopDone.catch(() => undefined);
  while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
  await engine.dispose().catch(() => undefined);
  post({ type: 'stopped' });
}

async function openSession(msg: Extract<ToWorker, { type: 'open' }>): Promise<void> {
  const { sessionId, reference, video } = msg;
  if (stopping) return;
  const encoder = createEncoder({
    codec: video.codec,
    width: video.width,
    height: video.height,
    fps: video.fps,
    bitrateKbps: video.bitrateKbps,
    keyframeIntervalFrames: video.keyframeIntervalFrames,
  });
  const s: WorkerSession = { id: sessionId, referenceId: reference.id, pipeline: undefined, encoder, queue: [], maxQueue: msg.maxQueueFrames, fps: video.fps, fault: undefined, pendingAudio: [], stride: 1 };
  sessions.set(sessionId, s);
  order.push(sessionId);
  const idle = idlePortraits.indexOf(reference.id);
  if (idle >= 0) idlePortraits.splice(idle, 1);
  try {
    const pipeline = await AvatarPipeline.create({
      fps: video.fps,
      seed: msg.seed,
      engine,
      motion: settings.motion,
      reference: { id: reference.id, image: { width: reference.width, height: reference.height, data: reference.rgba }, landmarks: reference.landmarks },
    });
    if (!sessions.has(sessionId)) {
      await pipeline.dispose(); // openSession itself is tracked, so shutdown waits for this too
      return;
    }
    s.pipeline = pipeline;
    // A chunked renderer needs at least two chunks of room, or every chunk would be dropped while the previous renders.
    s.maxQueue = Math.max(msg.maxQueueFrames, 2 * pipeline.chunkFrames);
  } catch (err) {
    fail(s, err);
    return;
  }
  for (const pcm of s.pendingAudio ?? []) pushAudio(s, pcm);
  s.pendingAudio = undefined;
  post({ type: 'opened', sessionId, lookaheadMs: s.pipeline.lookaheadMs, chunkFrames: s.pipeline.chunkFrames });
}

function enqueue(s: WorkerSession, frames: MotionFrame[]): void {
  if (!sessions.has(s.id)) return;
  for (const f of frames) {
    if (s.stride > 1 && f.index % s.stride !== 0) {
      post({ type: 'dropped', sessionId: s.id, index: f.index, shed: true });
      continue;
    }
    s.queue.push(f);
    // Drop the oldest: a late frame is worth less than a fresh one, and queues stay bounded.
    while (s.queue.length > s.maxQueue) {
      const dropped = s.queue.shift()!;
      post({ type: 'dropped', sessionId: s.id, index: dropped.index, shed: false });
    }
  }
  if (frames.length > 0) void frameLoop();
}

function pushAudio(s: WorkerSession, pcm: Float32Array): void {
  s.pipeline!.pushAudio(pcm).then(
    (frames) => enqueue(s, frames),
    (err: unknown) => fail(s, err),
  );
}

function nextReadySession(): WorkerSession | undefined {
  for (let i = 0; i < order.length; i++) {
    const s = sessions.get(order[(cursor + i) % order.length]!);
    if (s?.pipeline && s.queue.length >= s.pipeline.chunkFrames) {
      cursor = (cursor + i + 1) % Math.max(order.length, 1);
      return s;
    }
  }
  return undefined;
}

async function renderAndEncode(s: WorkerSession, pipeline: AvatarPipeline, frames: MotionFrame[]): Promise<void> {
  if (s.fault) throw new Error(`injected ${s.fault} fault`);
  const t0 = performance.now();
  const images = await pipeline.render(frames);
  if (spikeMs > 0) for (const end = performance.now() + spikeMs * frames.length; performance.now() < end; );
  const renderMs = (performance.now() - t0) / frames.length;
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i]!;
    const t1 = performance.now();
    const encoded = await s.encoder.encode(images[i]!.data, Math.round((frame.index * 1e6) / s.fps));
    const encodeMs = performance.now() - t1;
    if (!sessions.has(s.id)) return;
    const data = encoded.data;
    post(
      { type: 'frame', sessionId: s.id, index: frame.index, audioTimeMs: frame.audioTimeMs, keyframe: encoded.keyframe, data, mouthOpen: frame.mouthOpen, renderMs, encodeMs, ...(frame.faceT === undefined ? {} : { faceT: frame.faceT }) },
      data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? [data.buffer as ArrayBuffer] : undefined,
    );
  }
}

/** Renders queued frames of all sessions in round-robin order until no session has a full chunk waiting. */
function frameLoop(): Promise<void> {
  if (looping || stopping) return loopDone;
  looping = true;
  loopDone = runFrameLoop();
  return loopDone;
}

async function runFrameLoop(): Promise<void> {
  try {
    for (let s = nextReadySession(); s; s = nextReadySession()) {
      const pipeline = s.pipeline!;
      const frames = s.queue.splice(0, pipeline.chunkFrames);
      try {
        await renderAndEncode(s, pipeline, frames);
      } catch (err) {
        if (s.fault === 'worker') throw err; // let the thread die so the pool's recovery path runs
        fail(s, err);
      }
      // Let queued messages (audio, control, spikes) in between chunks: with a synchronous encoder nothing else
      // yields to the event loop, and audio would pile up unseen instead of being queued, bounded and counted.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    looping = false;
  }
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'open') {
    void track(openSession(msg));
    return;
  }
  if (msg.type === 'shutdown') {
    void shutdown();
    return;
  }
  if (msg.type === 'spike') {
    spikeMs = Math.max(0, msg.ms);
    return;
  }
  const s = sessions.get(msg.sessionId);
  if (!s) return; // closed meanwhile: late messages are expected and harmless
  try {
    switch (msg.type) {
      case 'audio':
        if (s.pendingAudio) {
          if (s.pendingAudio.length >= MAX_PENDING_AUDIO_CHUNKS) throw new Error('pipeline took too long to start');
          s.pendingAudio.push(msg.pcm);
        } else {
          pushAudio(s, msg.pcm);
        }
        break;
      case 'control': {
        const now = s.pipeline?.control(msg.control) ?? [];
        if (msg.control.type === 'clear') {
          // Frames queued before the interrupt still show the old speech: the interrupt's own frames replace them.
          for (const f of s.queue) post({ type: 'dropped', sessionId: s.id, index: f.index, shed: true });
          s.queue.length = 0;
          enqueue(s, now);
        }
        break;
      }
      case 'keyframe':
        s.encoder.requestKeyframe();
        break;
      case 'stride':
        s.stride = Math.max(1, Math.floor(msg.stride));
        break;
      case 'close':
        void closeSession(s.id);
        break;
      case 'crash':
        s.fault = msg.mode;
        break;
    }
  } catch (err) {
    fail(s, err);
  }
});

post({ type: 'ready' });
const ENGINE_COUNTERS_EVERY_MS = 2000;
setInterval(() => {
  const counters = engine.counters();
  if (Object.keys(counters).length > 0) post({ type: 'engineCounters', counters });
}, ENGINE_COUNTERS_EVERY_MS).unref();
