/** Loads a speech file for the load test as 48 kHz mono Float32 (what AvatarClient streams). */
import { resampleAll } from '../server/media/Resampler.ts';
import { readWav } from '../server/media/wav.ts';
import { AUDIO_RATE_HZ } from './AvatarClient.ts';

/** Reads a WAV file (any rate, channels mixed down) and resamples it to 48 kHz mono. */
export async function loadSpeech48k(path: string): Promise<Float32Array> {
  const wav = await readWav(path);
  return wav.sampleRate === AUDIO_RATE_HZ ? wav.samples : resampleAll(wav.samples, wav.sampleRate, AUDIO_RATE_HZ);
}
