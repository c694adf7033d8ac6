/**
 * Stop-closure relabelling for the lip-sync evaluation.
 *
 * libespeak-ng reports a stop (p t k b d g, and the affricates tS dZ) at its release: the silent closure before
 * the burst is rendered at the end of the preceding phoneme's event, and the stop's own event holds the burst and
 * the aspiration (for voiced stops after a voiced sound, first a low-frequency voice bar: lips still closed, then
 * the release). `stopSegments` moves each stop's label over its closure, measured on the synthesized audio:
 * - closure = the run of silent windows (level < speech level - `silenceBelowDb`) that ends at the stop's event,
 *   at most `maxClosureMs` long, never before the previous event's start and never taken from a pause
 *   (a pause already demands closed lips), plus, for voiced stops, the voice bar at the start of the stop's own
 *   event (windows < speech level - `voiceBarBelowDb` whose high-frequency ratio is < `voiceBarMaxHf`; up to
 *   `voiceBarLead` leading windows of the previous sound's tail may precede it);
 * - release = the rest of the stop's event (burst, aspiration, transition).
 * Bilabials (p b): closure `closed`, release `other` (the lips part at the release). Other stops: both `other`.
 */
import { percentile } from './scoring.ts';
import { phonemeToViseme, type LabelSegment, type TimedPhoneme, type VisemeClass } from './visemes.ts';

/** Short-time levels on a fixed grid: window j covers samples [j * hop, (j + 1) * hop). */
export interface SignalWindows {
  /** Window length = hop, samples. */
  hop: number;
  /** RMS level, dB re full scale (digital silence: -120). */
  db: ArrayLike<number>;
  /** High-frequency ratio: energy of the first difference / energy (~0.00-0.02 for a voice bar, ~2 for /s/). */
  hf: ArrayLike<number>;
}

export interface StopOptions {
  /** Closure windows are this far under the speech level (95th percentile of the window levels). */
  silenceBelowDb: number;
  /** Longest closure taken from the preceding phoneme, ms. */
  maxClosureMs: number;
  /** A voice bar is this far under the speech level... */
  voiceBarBelowDb: number;
  /** ...and has a high-frequency ratio under this. */
  voiceBarMaxHf: number;
  /** Windows of the previous sound's tail allowed at the start of a voiced stop's event before its voice bar. */
  voiceBarLead: number;
  /** A voice bar must last at least this many windows. */
  voiceBarMinWindows: number;
}

export const STOP_OPTIONS: Readonly<StopOptions> = Object.freeze({
  silenceBelowDb: 40,
  maxClosureMs: 150,
  voiceBarBelowDb: 15,
  voiceBarMaxHf: 0.04,
  voiceBarLead: 2,
  voiceBarMinWindows: 2,
});

const VOICELESS = new Set(['p', 't', 'k', 'tS']);
const VOICED = new Set(['b', 'd', 'g', 'dZ']);
const BILABIAL = new Set(['p', 'b']);

/** Base stop name of an eSpeak mnemonic (`p2` -> `p`, `t#` -> `t`), or undefined when it is no stop. */
export function stopBase(name: string): string | undefined {
  const n = name.trim();
  const base = n.replace(/[0-9#;'!]+$/u, '');
  return VOICELESS.has(base) || VOICED.has(base) ? base : undefined;
}

/** 5 ms (default) windows of `samples`: RMS level in dB and high-frequency ratio. */
export function signalWindows(samples: Float32Array, sampleRate: number, windowMs = 5): SignalWindows {
  const hop = Math.max(1, Math.round((windowMs * sampleRate) / 1000));
  const n = Math.ceil(samples.length / hop);
  const db = new Float64Array(n);
  const hf = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const a = j * hop, b = Math.min(samples.length, a + hop);
    let e = 0, d = 0;
    for (let i = a; i < b; i++) {
      const x = samples[i]!;
      e += x * x;
      if (i > 0) d += (x - samples[i - 1]!) ** 2;
    }
    db[j] = e > 0 ? Math.max(-120, 10 * Math.log10(e / (b - a))) : -120;
    hf[j] = e > 0 ? d / e : 0;
  }
  return { hop, db, hf };
}

/**
 * Label segments of an utterance's phonemes (sorted by sample, same sample grid as `w`), with each stop's
 * label moved over its closure (see the module comment). Segments are sorted with strictly increasing samples.
 */
export function stopSegments(phonemes: readonly TimedPhoneme[], w: SignalWindows, sampleRate: number, opts: Readonly<StopOptions> = STOP_OPTIONS): LabelSegment[] {
  const speech = percentile(w.db, 0.95);
  const silent = (j: number): boolean => j >= 0 && j < w.db.length && w.db[j]! < speech - opts.silenceBelowDb;
  const bar = (j: number): boolean => j >= 0 && j < w.db.length && w.db[j]! < speech - opts.voiceBarBelowDb && w.hf[j]! < opts.voiceBarMaxHf;
  const maxClosure = (opts.maxClosureMs * sampleRate) / 1000;
  const n = phonemes.length;
  // start[i]: where phoneme i's own label begins; cls[i]: its class; release[i]: where a stop's release begins.
  const start = phonemes.map((p) => p.sample);
  const cls = phonemes.map((p) => phonemeToViseme(p.name));
  const release: (number | undefined)[] = new Array<number | undefined>(n).fill(undefined);
  for (let i = 0; i < n; i++) {
    const base = stopBase(phonemes[i]!.name);
    if (base === undefined) continue;
    const s = phonemes[i]!.sample;
    const end = i + 1 < n ? phonemes[i + 1]!.sample : Number.POSITIVE_INFINITY;
    // Release: after the voice bar at the start of a voiced stop's own event.
    let r = s;
    if (VOICED.has(base)) {
      const j0 = Math.ceil(s / w.hop);
      let j = j0;
      while (j < j0 + opts.voiceBarLead && !bar(j) && (j + 1) * w.hop <= end) j++;
      let k = j;
      while (bar(k) && (k + 1) * w.hop <= end) k++;
      if (k - j >= opts.voiceBarMinWindows) r = Math.min(end, k * w.hop);
    }
    release[i] = r;
    // Closure taken from the preceding phoneme's silent tail.
    let c = s;
    if (i > 0 && cls[i - 1] !== 'silence') {
      const floor = Math.max(start[i - 1]!, release[i - 1] ?? start[i - 1]!, s - maxClosure);
      let j = Math.floor(s / w.hop) - 1;
      while (silent(j) && j * w.hop >= floor) c = j-- * w.hop;
    }
    start[i] = c;
  }
  const out: LabelSegment[] = [];
  const push = (sample: number, c: VisemeClass): void => {
    const last = out[out.length - 1];
    if (last && last.sample >= sample) out.pop(); // zero-length: the later label wins
    const prev = out[out.length - 1];
    if (!prev || prev.cls !== c) out.push({ sample, cls: c });
  };
  for (let i = 0; i < n; i++) {
    const base = stopBase(phonemes[i]!.name);
    if (base === undefined) {
      push(start[i]!, cls[i]!);
    } else if (BILABIAL.has(base)) {
      push(start[i]!, 'closed');
      push(release[i]!, 'other');
    } else {
      push(start[i]!, 'other');
    }
  }
  return out;
}
