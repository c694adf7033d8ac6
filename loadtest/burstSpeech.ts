/**
 * Test content for A/V sync: short spoken syllables separated by silence, with the onset of each known.
 *
 * Why speech and not tone bursts: the default mouth (the learned audio2mouth model, trained on real speech)
 * does not open for a pure tone, and opens for a harmonic buzz only once (measured offline with the motion stage).
 * Why espeak-ng "la" (voice en, 175 wpm): rendered offline through the session pipeline and measured on the
 * pixels (modelMouthOffset.ts), its mouth opens within ±20 ms of the syllable's onset every time (14 of 14,
 * mean +1 ms, p95 |offset| 19 ms). Other syllables say more about the model than about the transport: "pa"
 * opens 45-70 ms ahead of its plosive burst (real lips part before the release too), "ha" 100 ms ahead, and
 * "la" in the en-us voice at 150 wpm opens less with every repetition until it stops opening. The first
 * syllable after a long silence opens about 115 ms early whatever it is: callers treat it as warm-up.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resampleAll } from '../server/media/Resampler.ts';
import { decodeWav } from '../server/media/wav.ts';

const run = promisify(execFile);

/** Samples quieter than this at either end of a synthesized syllable are cut (espeak-ng pads with silence). */
const TRIM_LEVEL = 0.01;

/** espeak-ng text, voice and rate (Debian package `espeak-ng`; .ci/run installs it). */
export interface SpeechOptions {
  text?: string;
  voice?: string;
  wordsPerMinute?: number;
}

/** Speaks `text` (default the syllable "la", voice en, 175 wpm) with the espeak-ng command, mono at `sampleRate`, silence trimmed. */
export async function synthesizeSpeech(sampleRate: number, opts: SpeechOptions = {}): Promise<Float32Array> {
  const { text = 'la', voice = 'en', wordsPerMinute = 175 } = opts;
  let stdout: Buffer;
  try {
    ({ stdout } = await run('espeak-ng', ['--stdout', '-v', voice, '-s', String(wordsPerMinute), text], { encoding: 'buffer', maxBuffer: 16 << 20 }));
  } catch (error) {
    throw new Error(`espeak-ng failed (apt-get install espeak-ng; .ci/run does this) [text:${text}]: ${(error as Error).message.split('\n')[0]}`);
  }
  const wav = decodeWav(new Uint8Array(stdout.buffer, stdout.byteOffset, stdout.byteLength), 'espeak-ng');
  const pcm = wav.sampleRate === sampleRate ? wav.samples : await resampleAll(wav.samples, wav.sampleRate, sampleRate);
  return trimSilence(pcm, TRIM_LEVEL);
}

/** The part of `pcm` between the first and the last sample whose magnitude reaches `level`. */
export function trimSilence(pcm: Float32Array, level: number): Float32Array {
  let start = 0;
  let end = pcm.length;
  while (start < end && Math.abs(pcm[start]!) < level) start++;
  while (end > start && Math.abs(pcm[end - 1]!) < level) end--;
  return pcm.slice(start, end);
}

/** A burst sequence and where each burst starts. */
export interface BurstTrack {
  pcm: Float32Array;
  sampleRate: number;
  /** Start of each burst from the start of `pcm`, ms. */
  onsetsMs: number[];
}

export interface BurstSequenceOptions {
  sampleRate: number;
  count: number;
  /** Silence between bursts, ms. */
  gapMs: number;
  /** Silence before the first burst, ms (default gapMs). */
  leadMs?: number;
  /** Silence after the last burst, ms (default gapMs). */
  tailMs?: number;
}

/** `count` copies of `burst`, separated by `gapMs` of digital silence. */
export function burstSequence(burst: Float32Array, opts: BurstSequenceOptions): BurstTrack {
  const { sampleRate, count, gapMs } = opts;
  const samples = (ms: number): number => Math.round((ms * sampleRate) / 1000);
  const lead = samples(opts.leadMs ?? gapMs);
  const gap = samples(gapMs);
  const tail = samples(opts.tailMs ?? gapMs);
  const pcm = new Float32Array(lead + count * burst.length + Math.max(0, count - 1) * gap + tail);
  const onsetsMs: number[] = [];
  for (let i = 0, at = lead; i < count; i++, at += burst.length + gap) {
    pcm.set(burst, at);
    onsetsMs.push((at * 1000) / sampleRate);
  }
  return { pcm, sampleRate, onsetsMs };
}
