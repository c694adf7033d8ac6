/**
 * The truth cache: MediaPipe measurements of the real talking clips (../shared/media/real/talking), written by
 * `npm run measure:real` (tools/measure-real.ts) and read by `npm run eval:real` and the motion-model training.
 *
 *   .cache/real/audio/<clip>.wav       the clip's audio, 16 kHz mono PCM16
 *   .cache/real/truth/<clip>.json      TruthJson (below)
 *   .cache/real/truth/<clip>.lmk.f32   frames x 478 x 3 float32 little-endian (pixels), NaN where no face
 *
 * The json is written last, so its presence marks a complete entry; `source` keys it to the clip's size and content hash.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { resampleAll } from '../../server/media/Resampler.ts';
import { decodeWav } from '../../server/media/wav.ts';
import { AUDIO_RATE } from '../../engines/types.ts';
import { BLENDSHAPE_NAMES } from '../../engines/face/blendshapes.ts';
import type { FaceMeasurer } from './FaceMeasurer.ts';
import { LANDMARKS } from './pageScript.ts';
import { extractAudioWav } from './video.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
export const TALKING_DIR = join(ROOT, '../shared/media/real/talking');
export const PORTRAITS_DIR = join(ROOT, '../shared/media/real/portraits');
export const REAL_CACHE = join(ROOT, '.cache/real');
export const TRUTH_FPS = 25;
/** Bump when the measurement changes meaning (forces a re-measure). */
export const TRUTH_VERSION = 1;

export interface TruthJson {
  clip: string;
  fps: number;
  width: number;
  height: number;
  frames: number;
  blendshapeNames: string[];
  found: boolean[];
  /** inner-lip gap / mouth width per frame; null where no face */
  opening: (number | null)[];
  /** 52 scores per frame; null where no face */
  blendshapes: (number[] | null)[];
  /** what was measured: the clip's size and content hash, and the cache version */
  source: { size: number; sha256: string; version: number };
}

/** A loaded truth entry. */
export interface Truth extends TruthJson {
  /** frames x 478 x 3, NaN where no face */
  landmarks: Float32Array;
}

export function clipPath(clip: string): string {
  return join(TALKING_DIR, `${clip}.mp4`);
}
export function truthJsonPath(clip: string): string {
  return join(REAL_CACHE, 'truth', `${clip}.json`);
}
export function truthLmkPath(clip: string): string {
  return join(REAL_CACHE, 'truth', `${clip}.lmk.f32`);
}
export function audioWavPath(clip: string): string {
  return join(REAL_CACHE, 'audio', `${clip}.wav`);
}

/** Names (no extension) of the talking clips, sorted. */
export async function listClips(): Promise<string[]> {
  return (await readdir(TALKING_DIR)).filter((f) => f.endsWith('.mp4')).map((f) => basename(f, '.mp4')).sort();
}

// Keyed by content, not mtime: the shared corpus is re-mounted with fresh mtimes, which used to force a re-measure.
async function sourceKey(clip: string): Promise<TruthJson['source']> {
  const bytes = await readFile(clipPath(clip));
  return { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), version: TRUTH_VERSION };
}

/** Whether the cache holds an up-to-date entry (truth json + landmarks + wav) for the clip. */
export async function isCached(clip: string): Promise<boolean> {
  if (!existsSync(truthJsonPath(clip)) || !existsSync(truthLmkPath(clip)) || !existsSync(audioWavPath(clip))) return false;
  try {
    const json = JSON.parse(await readFile(truthJsonPath(clip), 'utf8')) as TruthJson;
    const key = await sourceKey(clip);
    return json.source?.size === key.size && json.source.sha256 === key.sha256 && json.source.version === key.version;
  } catch {
    return false;
  }
}

async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits));

/** Measure one clip and write its cache entry. Returns the number of frames. */
export async function measureClip(measurer: FaceMeasurer, clip: string): Promise<{ frames: number; found: number }> {
  await mkdir(join(REAL_CACHE, 'truth'), { recursive: true });
  await mkdir(join(REAL_CACHE, 'audio'), { recursive: true });
  const source = await sourceKey(clip);
  const wavTmp = `${audioWavPath(clip)}.tmp-${process.pid}.wav`;
  await extractAudioWav(clipPath(clip), wavTmp);
  await rename(wavTmp, audioWavPath(clip));
  const r = await measurer.measureVideo(clipPath(clip), TRUTH_FPS);
  const n = r.frames.length;
  const lmk = new Float32Array(n * LANDMARKS * 3).fill(Number.NaN);
  r.frames.forEach((f, i) => {
    if (f.found) lmk.set(f.landmarks, i * LANDMARKS * 3);
  });
  const json: TruthJson = {
    clip,
    fps: TRUTH_FPS,
    width: r.width,
    height: r.height,
    frames: n,
    blendshapeNames: [...BLENDSHAPE_NAMES],
    found: r.frames.map((f) => f.found),
    opening: r.frames.map((f) => (f.found && Number.isFinite(f.opening) ? round(f.opening, 6) : null)),
    blendshapes: r.frames.map((f) => (f.found ? Array.from(f.blendshapes, (x) => round(x, 5)) : null)),
    source,
  };
  await writeAtomic(truthLmkPath(clip), new Uint8Array(lmk.buffer, lmk.byteOffset, lmk.byteLength));
  await writeAtomic(truthJsonPath(clip), JSON.stringify(json));
  return { frames: n, found: json.found.filter(Boolean).length };
}

/** Load a cache entry (throws when missing). */
export async function loadTruth(clip: string): Promise<Truth> {
  const json = JSON.parse(await readFile(truthJsonPath(clip), 'utf8')) as TruthJson;
  const bytes = await readFile(truthLmkPath(clip));
  const landmarks = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  if (landmarks.length !== json.frames * LANDMARKS * 3) throw new Error(`truth landmarks of ${clip}: ${landmarks.length} floats, expected ${json.frames * LANDMARKS * 3}`);
  return { ...json, landmarks };
}

/** 16 kHz mono audio of a clip from the truth cache. */
export async function clipAudio16k(clip: string): Promise<Float32Array> {
  const wav = decodeWav(new Uint8Array(await readFile(audioWavPath(clip))), audioWavPath(clip));
  return wav.sampleRate === AUDIO_RATE ? wav.samples : resampleAll(wav.samples, wav.sampleRate, AUDIO_RATE);
}
