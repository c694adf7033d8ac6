/**
 * Offline render: WAV + portrait -> MP4 (H.264 + AAC) or WebM (VP8 + Opus) through the session pipeline
 * (engines/face ingest, AvatarPipeline, WarpRenderer), feeding audio in 20 ms chunks as a session does.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { FaceLandmarker } from '../../engines/face/FaceLandmarker.ts';
import { ingestReference } from '../../engines/face/ingestReference.ts';
import { lazyInnerLipRefiner } from '../../engines/face/InnerLipRefiner.ts';
import { ReferenceRejectedError } from '../../engines/face/ReferenceRejectedError.ts';
import { AvatarPipeline } from '../../engines/pipeline.ts';
import { createRenderEngine } from '../../engines/render/createRenderEngine.ts';
import { AUDIO_RATE, type ReferencePortrait } from '../../engines/types.ts';
import { resampleAll } from '../../server/media/Resampler.ts';
import { decodeWav, WavFormatError, type WavAudio } from '../../server/media/wav.ts';
import type { FaceSample } from '../../engines/motion/FaceDrive.ts';
import { readDrivingVideo } from './drivingVideo.ts';
import { runFrameLoop } from './frameLoop.ts';
import { MediaFileWriter, type ContainerFormat } from './MediaFileWriter.ts';

/** A problem with what the user gave (file missing, not a WAV, no face...): exit code 3, no stack trace. */
export class RenderInputError extends Error {
  override readonly name = 'RenderInputError';
}

/** Options of renderFile. */
export interface RenderFileOptions {
  /** Speech driving the mouth; with `videoPath` it defaults to the driving video's own audio. */
  audioPath?: string;
  /** A driving video (reenactment): its face drives head pose, eyes, brows and mouth; its audio is muxed in. */
  videoPath?: string;
  portraitPath: string;
  outPath: string;
  /** Container; default from the output's extension (.mp4 / .webm). */
  format?: ContainerFormat;
  /** Frames per second (default 25). */
  fps?: number;
  /** Output side, px (default 512). */
  size?: number;
  /** Render only the first this many seconds of the audio. */
  maxSeconds?: number;
  /** Seed of head motion and blinks (default 1). */
  seed?: number;
  /** Video bitrate, kbit/s (default 2000). */
  videoBitrateKbps?: number;
  /** Called after each frame is encoded; also once with done = 0 when the total is known. */
  onProgress?: (done: number, total: number) => void;
  /** Called when a stage starts (for the progress display). */
  onStage?: (stage: string) => void;
}

/** What was written. */
export interface RenderResult {
  outPath: string;
  format: ContainerFormat;
  frames: number;
  fps: number;
  width: number;
  height: number;
  audioSeconds: number;
  bytes: number;
  /** Wall time of the frame loop (motion + render + encode), ms. */
  renderMs: number;
}

const OUTPUT_AUDIO_RATE = 48000;
const MAX_IMAGE_BYTES = 20 << 20;
const MAX_IMAGE_PIXELS = 40e6;

/** Container implied by a file name, or undefined. */
export function formatOf(path: string): ContainerFormat | undefined {
  const ext = extname(path).toLowerCase();
  return ext === '.mp4' || ext === '.m4v' ? 'mp4' : ext === '.webm' ? 'webm' : undefined;
}

/** Render `audioPath` with `portraitPath` into `outPath`. Bad inputs throw RenderInputError. */
export async function renderFile(opts: RenderFileOptions): Promise<RenderResult> {
  const { audioPath, videoPath, portraitPath, outPath, fps = 25, size = 512, seed = 1, maxSeconds } = opts;
  const format = opts.format ?? formatOf(outPath);
  if (!format) throw new RenderInputError(`cannot tell the container from the output name; use .mp4 or .webm [out:${outPath}]`);
  if (!(fps >= 10 && fps <= 60)) throw new RenderInputError(`fps must be 10..60 [fps:${fps}]`);
  if (!(Number.isInteger(size) && size >= 64 && size <= 2048 && size % 2 === 0)) throw new RenderInputError(`size must be an even integer 64..2048 px [size:${size}]`);
  if (maxSeconds !== undefined && !(maxSeconds > 0)) throw new RenderInputError(`duration must be > 0 s [duration:${maxSeconds}]`);

  const stage = opts.onStage ?? (() => undefined);
  let samples: (FaceSample | null)[] | undefined;
  let wav: WavAudio;
  if (videoPath) {
    stage('measuring the driving video');
    const driver = await readDrivingVideo(videoPath, fps).catch((err: unknown) => {
      throw new RenderInputError(`cannot read the driving video [video:${videoPath}, ${(err as Error).message.split('\n')[0]}]`);
    });
    samples = driver.samples;
    if (!samples.some((s) => s !== null)) throw new RenderInputError(`no face found in the driving video [video:${videoPath}]`);
    // Without speech, the face alone drives: silence as long as the video.
    wav = audioPath ? await readAudio(audioPath) : (driver.audio ?? { sampleRate: AUDIO_RATE, channels: 1, bitsPerSample: 16, format: 'int', samples: new Float32Array(Math.round((samples.length / fps) * AUDIO_RATE)) });
  } else {
    if (!audioPath) throw new RenderInputError('give --audio, --video or both');
    stage('reading audio');
    wav = await readAudio(audioPath);
  }
  let source = wav.samples;
  if (maxSeconds !== undefined) source = source.subarray(0, Math.min(source.length, Math.round(maxSeconds * wav.sampleRate)));
  if (source.length < wav.sampleRate / fps) throw new RenderInputError(`audio is shorter than one frame [audio:${audioPath ?? videoPath}, samples:${source.length}]`);
  const audioSeconds = source.length / wav.sampleRate;
  const [pcm16k, pcmOut] = await Promise.all([resampleAll(source, wav.sampleRate, AUDIO_RATE), resampleAll(source, wav.sampleRate, OUTPUT_AUDIO_RATE)]);

  stage('finding the face');
  const reference = await readPortrait(portraitPath, size);

  const engine = await createRenderEngine({ engine: 'warp', width: size, height: size });
  const writer = new MediaFileWriter({ format, width: size, height: size, fps, audioRate: OUTPUT_AUDIO_RATE, ...(opts.videoBitrateKbps ? { videoBitrateKbps: opts.videoBitrateKbps } : {}) });
  try {
    // Face samples are fresh by media time: the frame loop sets frame k's sample just before the push that makes it.
    let faceClockMs = 0;
    const pipeline = await AvatarPipeline.create({ fps, reference, engine, seed, clock: () => faceClockMs });
    const total = Math.ceil(audioSeconds * fps);
    stage('rendering');
    opts.onProgress?.(0, total);
    const started = performance.now();
    const faces = samples;
    const done = await runFrameLoop(
      pipeline,
      pcm16k,
      total,
      async (image, _motion, index) => {
        await writer.addFrame(image.data);
        opts.onProgress?.(index + 1, total);
      },
      faces
        ? (k) => {
            faceClockMs = (k * 1000) / fps;
            pipeline.control({ type: 'face', sample: faces[Math.min(k, faces.length - 1)] ?? null });
          }
        : undefined,
    );
    const renderMs = performance.now() - started;
    await pipeline.dispose();
    stage('muxing');
    const bytes = await writer.finish(pcmOut);
    await writeFile(outPath, bytes).catch((err: unknown) => {
      throw new RenderInputError(`cannot write the output [out:${outPath}, ${(err as Error).message}]`);
    });
    return { outPath, format, frames: done, fps, width: size, height: size, audioSeconds, bytes: bytes.length, renderMs };
  } finally {
    writer.close();
    await engine.dispose();
  }
}

async function readAudio(path: string): Promise<WavAudio> {
  const bytes = await readInput(path, 'audio');
  try {
    const wav = decodeWav(bytes, path);
    if (wav.samples.length === 0) throw new RenderInputError(`audio has no samples [audio:${path}]`);
    return wav;
  } catch (err) {
    if (err instanceof WavFormatError) throw new RenderInputError(`audio is not a WAV file this tool can read: ${err.message}`);
    throw err;
  }
}

async function readPortrait(path: string, size: number): Promise<ReferencePortrait> {
  const bytes = await readInput(path, 'portrait');
  const landmarker = new FaceLandmarker();
  try {
    return await ingestReference(bytes, { width: size, height: size, maxBytes: MAX_IMAGE_BYTES, maxPixels: MAX_IMAGE_PIXELS, landmarker, lipRefiner: lazyInnerLipRefiner() });
  } catch (err) {
    if (err instanceof ReferenceRejectedError) throw new RenderInputError(`portrait rejected (${err.code}): ${err.message} [portrait:${path}]`);
    throw err;
  } finally {
    await landmarker.close();
  }
}

async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new RenderInputError(`${what} is not a file [${what}:${path}]`);
    return new Uint8Array(await readFile(path));
  } catch (err) {
    if (err instanceof RenderInputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new RenderInputError(`${what} file not found [${what}:${path}]`);
    throw new RenderInputError(`cannot read the ${what} file [${what}:${path}, ${(err as Error).message}]`);
  }
}
