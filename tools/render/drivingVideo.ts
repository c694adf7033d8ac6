/**
 * A driving video for offline reenactment: its face measured frame by frame with MediaPipe FaceLandmarker (the same
 * measure the live webcam path takes in the browser) and its audio, if it has any.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headAnglesFromMatrix } from '../../engines/face/mediaPipePose.ts';
import type { FaceSample } from '../../engines/motion/FaceDrive.ts';
import { FaceMeasurer, type FaceMeasurement } from '../../eval/measure/FaceMeasurer.ts';
import { extractAudioWav } from '../../eval/measure/video.ts';
import { decodeWav, type WavAudio } from '../../server/media/wav.ts';

/** The face of one measured frame as a FaceDrive sample, or null when no face was found. */
export function faceSampleOf(m: FaceMeasurement): FaceSample | null {
  if (!m.found || m.matrix.length !== 16 || !Number.isFinite(m.opening)) return null;
  return { ...headAnglesFromMatrix(m.matrix), mouthOpen: m.opening, blendshapes: m.blendshapes };
}

export interface DrivingVideo {
  /** One per frame at the requested fps; null where no face was found. */
  samples: (FaceSample | null)[];
  /** The driver's own audio, or undefined when the file has none. */
  audio: WavAudio | undefined;
}

export async function readDrivingVideo(path: string, fps: number): Promise<DrivingVideo> {
  const measurer = await FaceMeasurer.open();
  let frames: FaceMeasurement[];
  try {
    frames = (await measurer.measureVideo(path, fps)).frames;
  } finally {
    await measurer.close();
  }
  const dir = await mkdtemp(join(tmpdir(), 'driver-audio-'));
  let audio: WavAudio | undefined;
  try {
    const wavPath = join(dir, 'audio.wav');
    await extractAudioWav(path, wavPath);
    const wav = decodeWav(new Uint8Array(await readFile(wavPath)), wavPath);
    audio = wav.samples.length > 0 ? wav : undefined;
  } catch {
    audio = undefined; // no audio stream: the avatar is driven by the face alone
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { samples: frames.map(faceSampleOf), audio };
}
