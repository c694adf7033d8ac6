/**
 * The model's own A/V offset: the same audio rendered offline through the session pipeline (default motion
 * engines, warp renderer), measured on the rendered pixels exactly as a viewer's decoded frames are. No network,
 * no encoder: what is left is when the mouth model chooses to open. The viewer's offset minus this one is what
 * the transport adds.
 */
import { readFile } from 'node:fs/promises';
import { sharedFaceLandmarker } from '../engines/face/FaceLandmarker.ts';
import { ReferenceCache } from '../engines/face/ReferenceCache.ts';
import { AvatarPipeline } from '../engines/pipeline.ts';
import { createRenderEngine } from '../engines/render/createRenderEngine.ts';
import type { ReferencePortrait, RgbaImage } from '../engines/types.ts';
import { resampleAll } from '../server/media/Resampler.ts';
import { runFrameLoop } from '../tools/render/frameLoop.ts';
import {
  audioLevels,
  audioOnsets,
  mouthBox,
  mouthOnsets,
  mouthOpening,
  mouthRestReference,
  offsetStats,
  pairOnsets,
  type Box,
  type MouthSample,
  type OffsetStats,
  type OnsetPair,
} from './avSync.ts';

export interface ModelOffsetOptions {
  fps?: number;
  /** Head motion and blink seed (the server's `pipeline.seed`, default 1). */
  seed?: number;
  /** Frames of the silence put before the audio that set the cavity threshold (default 15). */
  restFrames?: number;
  /** Sound onsets before this are left out (warm-up), ms from the start of the audio. */
  fromMs?: number;
}

export interface ModelOffsetResult {
  pairs: OnsetPair[];
  unmatchedAudio: number;
  stats: OffsetStats | null;
}

/** Loads a portrait as the server does (its disk cache first, else face detection). */
export async function loadPortrait(path: string, size: { width: number; height: number }, cacheDir?: string): Promise<ReferencePortrait> {
  const cache = new ReferenceCache({
    landmarker: sharedFaceLandmarker(),
    width: size.width,
    height: size.height,
    maxBytes: 50 << 20,
    maxPixels: 50_000_000,
    ...(cacheDir ? { diskDir: cacheDir } : {}),
  });
  return cache.getOrIngest(new Uint8Array(await readFile(path)));
}

/** Renders `pcm48k` (48 kHz mono) for `reference` and pairs its sound onsets with the rendered mouth's onsets. */
export async function modelMouthOffsets(pcm48k: Float32Array, reference: ReferencePortrait, opts: ModelOffsetOptions = {}): Promise<ModelOffsetResult> {
  const { fps = 25, seed = 1, restFrames = 15, fromMs = -Infinity } = opts;
  // A second of silence first, so the rest frames are at rest whatever the audio starts with.
  const leadMs = 1000;
  const padded = new Float32Array(48 * leadMs + pcm48k.length);
  padded.set(pcm48k, 48 * leadMs);
  const { width, height } = reference.image;
  const landmarks: number[][] = [];
  for (let i = 0; i < reference.landmarks.length; i += 2) landmarks.push([reference.landmarks[i]!, reference.landmarks[i + 1]!]);
  const box = mouthBox(landmarks, width, height);

  const crops: Uint8Array[] = [];
  const engine = await createRenderEngine({ engine: 'warp', width, height });
  try {
    const pipeline = await AvatarPipeline.create({ fps, reference, engine, seed });
    const pcm16k = await resampleAll(padded, 48_000, 16_000);
    await runFrameLoop(pipeline, pcm16k, Math.floor((pcm16k.length / 16_000) * fps), (image) => {
      crops.push(lumaCrop(image, box));
    });
    await pipeline.dispose();
  } finally {
    await engine.dispose();
  }

  const cavity = mouthRestReference(crops.slice(0, restFrames));
  const mouth: MouthSample[] = crops.map((crop, k) => ({ t: (k * 1000) / fps, open: mouthOpening(crop, cavity), change: 0 }));
  const sound = audioOnsets(audioLevels([{ rtpTimestamp: 0, pcm: padded }]))
    .map((rtp) => rtp / 48)
    .filter((ms) => ms - leadMs >= fromMs);
  const { pairs, unmatchedAudio } = pairOnsets(sound, mouthOnsets(mouth));
  return { pairs, unmatchedAudio, stats: offsetStats(pairs.map((p) => p.offsetMs)) };
}

/** Limited-range BT.601 luma inside `box`, as a decoder of the encoded frame would give it. */
function lumaCrop(image: RgbaImage, box: Box): Uint8Array {
  const w = box.x1 - box.x0;
  const out = new Uint8Array(w * (box.y1 - box.y0));
  for (let y = box.y0; y < box.y1; y++) {
    for (let x = box.x0; x < box.x1; x++) {
      const p = (y * image.width + x) * 4;
      out[(y - box.y0) * w + (x - box.x0)] = Math.round(16 + (219 * (0.299 * image.data[p]! + 0.587 * image.data[p + 1]! + 0.114 * image.data[p + 2]!)) / 255);
    }
  }
  return out;
}
