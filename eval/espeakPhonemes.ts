/**
 * Speech with phoneme timing from libespeak-ng: a tiny C helper (eval/espeak/phonemes.c) is compiled with gcc
 * into .cache/eval-espeak/ on first use (keyed by the source's hash) and run once per utterance.
 * Needs Debian packages `gcc` and `libespeak-ng-dev` (which brings libespeak-ng1 and espeak-ng-data).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TimedPhoneme } from './visemes.ts';

const run = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;
const SOURCE = join(ROOT, 'eval/espeak/phonemes.c');
const CACHE = join(ROOT, '.cache/eval-espeak');

/** One synthesized utterance. */
export interface SpokenText {
  /** Mono samples in [-1, 1]. */
  samples: Float32Array;
  /** Hz (22050 for eSpeak-ng). */
  sampleRate: number;
  /** Phonemes in order, with start samples. */
  phonemes: TimedPhoneme[];
}

/** Voice settings of one utterance. */
export interface EspeakVoice {
  /** eSpeak voice name, with an optional variant (`en-us`, `en-gb+f3`). */
  voice: string;
  /** Words per minute (80..450; 175 is eSpeak's normal). */
  rateWpm: number;
  /** Base pitch 0..100 (50 normal). */
  pitch: number;
  /** Pitch range 0..100 (50 normal). */
  range?: number;
}

/** Thrown when the helper cannot be built or run (missing gcc or libespeak-ng-dev). */
export class EspeakUnavailableError extends Error {
  override readonly name = 'EspeakUnavailableError';
}

let built: Promise<string> | undefined;

/** Path of the compiled helper, building it on first call. */
export function espeakHelper(): Promise<string> {
  built ??= build();
  return built;
}

async function build(): Promise<string> {
  const src = await readFile(SOURCE);
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const bin = join(CACHE, `espeak-phonemes-${hash}`);
  if (existsSync(bin)) return bin;
  await mkdir(CACHE, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  try {
    await run('gcc', ['-O2', '-o', tmp, SOURCE, '-lespeak-ng']);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new EspeakUnavailableError(`could not build the espeak-ng helper (needs gcc and libespeak-ng-dev) [${msg.split('\n').slice(0, 3).join(' ')}]`);
  }
  await rename(tmp, bin); // atomic, so concurrent runs never execute a half-written file
  return bin;
}

/** Synthesize `text` and return its audio and the phoneme events. */
export async function speak(text: string, v: EspeakVoice): Promise<SpokenText> {
  const bin = await espeakHelper();
  const raw = join(tmpdir(), `espeak-${process.pid}-${Math.random().toString(36).slice(2)}.raw`);
  try {
    const child = run(bin, [v.voice, String(v.rateWpm), String(v.pitch), String(v.range ?? 50), raw], { maxBuffer: 1 << 24 });
    child.child.stdin?.end(text);
    const { stdout } = await child;
    const pcm = await readFile(raw);
    return { ...parseHelperOutput(stdout), samples: int16leToFloat(pcm) };
  } catch (err) {
    if (err instanceof EspeakUnavailableError) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`espeak-ng synthesis failed [voice:${v.voice}, text:${JSON.stringify(text.slice(0, 40))}, ${msg.split('\n')[0]}]`);
  } finally {
    await rm(raw, { force: true });
  }
}

/** Parse the helper's stdout ("rate HZ", "ph SAMPLE NAME" lines; others ignored). */
export function parseHelperOutput(stdout: string): { sampleRate: number; phonemes: TimedPhoneme[] } {
  let sampleRate = 0;
  const phonemes: TimedPhoneme[] = [];
  for (const line of stdout.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts[0] === 'rate') sampleRate = Number(parts[1]);
    else if (parts[0] === 'ph' && parts.length >= 3) phonemes.push({ sample: Number(parts[1]), name: parts[2]! });
  }
  if (!(sampleRate > 0)) throw new Error('espeak-ng helper reported no sample rate');
  phonemes.sort((a, b) => a.sample - b.sample);
  return { sampleRate, phonemes };
}

function int16leToFloat(b: Buffer): Float32Array {
  const n = b.length >> 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = b.readInt16LE(2 * i) / 32768;
  return out;
}
