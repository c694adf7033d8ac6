/**
 * The webcam drives the avatar: MediaPipe FaceLandmarker runs here, in the browser (CPU delegate), on each camera
 * frame, and only the measurement goes to the server on the "face" data channel, about 0.6 KB a sample:
 * {type:"face", pose:[yaw, pitch, roll], open, bs:[52 blendshape scores], t}. Measuring here rather than on the
 * server costs the server nothing and adds no video encode/decode hop; the server's FaceDrive retargets it onto the
 * portrait's own rig.
 */
import { FaceLandmarker, FilesetResolver, type FaceLandmarkerResult } from '@mediapipe/tasks-vision';
import { headAnglesFromMatrix, mouthOpeningOf } from '../engines/face/mediaPipePose.ts';
import { NUM_BLENDSHAPES } from '../engines/face/blendshapes.ts';

const WASM_PATH = '/vendor/mediapipe/wasm';
const MODEL_PATH = '/models/face_landmarker.task';
/** Samples sent at most this often (the server's limit is limits.faceMessagesPerSecond, 60 by default). */
const MIN_INTERVAL_MS = 1000 / 30;
const STATS_WINDOW = 60;

/** What the tracker has done lately. */
export interface FaceTrackerStats {
  /** Samples sent a second. */
  rate: number;
  /** Landmarker time per camera frame, ms (mean of the last STATS_WINDOW). */
  detectMs: number;
  /** A face is in view. */
  found: boolean;
  sent: number;
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

/** One sample of the wire format from a FaceLandmarker result, or undefined without a face. */
export function faceMessageOf(result: FaceLandmarkerResult, width: number, height: number, t: number): Record<string, unknown> | undefined {
  const lm = result.faceLandmarks[0];
  const matrix = result.facialTransformationMatrixes?.[0]?.data;
  const categories = result.faceBlendshapes?.[0]?.categories;
  if (!lm || !matrix || !categories) return undefined;
  const open = mouthOpeningOf((i) => lm[i]!.x * width, (i) => lm[i]!.y * height);
  if (!Number.isFinite(open)) return undefined;
  const angles = headAnglesFromMatrix(matrix);
  const bs = new Array<number>(NUM_BLENDSHAPES).fill(0);
  for (const c of categories) if (c.index >= 0 && c.index < NUM_BLENDSHAPES) bs[c.index] = round3(c.score);
  return { type: 'face', pose: [round3(angles.yawDeg), round3(angles.pitchDeg), round3(angles.rollDeg)], open: round3(open), bs, t: Math.round(t) };
}

export class FaceTracker {
  private running = false;
  private lastSentAt = 0;
  private wasFound = false;
  private readonly detectTimes: number[] = [];
  private readonly sentTimes: number[] = [];
  private sent = 0;

  private constructor(private readonly landmarker: FaceLandmarker) {}

  /** Loads the wasm runtime and the model (served by this server: /vendor/mediapipe, /models). */
  static async create(): Promise<FaceTracker> {
    const fileset = await FilesetResolver.forVisionTasks(WASM_PATH);
    const landmarker = await FaceLandmarker.createFromOptions(fileset, {
      baseOptions: { modelAssetPath: MODEL_PATH, delegate: 'CPU' },
      runningMode: 'VIDEO',
      numFaces: 1,
      outputFaceBlendshapes: true,
      outputFacialTransformationMatrixes: true,
    });
    return new FaceTracker(landmarker);
  }

  /** Measures every new frame of `video` and sends the samples on `channel` until stop(). */
  start(video: HTMLVideoElement, channel: RTCDataChannel): void {
    this.running = true;
    const step = (): void => {
      if (!this.running) return;
      this.measure(video, channel);
      schedule();
    };
    // requestVideoFrameCallback runs once per camera frame; a timer where it is missing.
    const schedule = (): void => {
      if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(step);
      else window.setTimeout(step, MIN_INTERVAL_MS);
    };
    schedule();
  }

  stop(): void {
    this.running = false;
    this.landmarker.close();
  }

  stats(): FaceTrackerStats {
    const now = performance.now();
    const recent = this.sentTimes.filter((t) => now - t < 2000);
    const detectMs = this.detectTimes.length ? this.detectTimes.reduce((a, b) => a + b, 0) / this.detectTimes.length : 0;
    return { rate: recent.length / 2, detectMs, found: this.wasFound, sent: this.sent };
  }

  private measure(video: HTMLVideoElement, channel: RTCDataChannel): void {
    const now = performance.now();
    if (video.readyState < 2 || now - this.lastSentAt < MIN_INTERVAL_MS || channel.readyState !== 'open') return;
    // Wall-clock ms, the clock the server echoes back per video frame (faceT).
    const t = performance.timeOrigin + now;
    const result = this.landmarker.detectForVideo(video, now);
    this.detectTimes.push(performance.now() - now);
    if (this.detectTimes.length > STATS_WINDOW) this.detectTimes.shift();
    const message = faceMessageOf(result, video.videoWidth, video.videoHeight, t);
    if (!message) {
      // Say so once: the avatar glides back to the audio-driven motion at once instead of after a timeout.
      if (this.wasFound) channel.send(JSON.stringify({ type: 'face', lost: true }));
      this.wasFound = false;
      return;
    }
    this.wasFound = true;
    // A late sample is worth nothing: the channel is unordered without retransmits, and a backlog is skipped.
    if (channel.bufferedAmount > 16 * 1024) return;
    channel.send(JSON.stringify(message));
    this.lastSentAt = now;
    this.sent++;
    this.sentTimes.push(now);
    if (this.sentTimes.length > STATS_WINDOW) this.sentTimes.shift();
  }
}
