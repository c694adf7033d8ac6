/**
 * Phoneme -> viseme classes for the lip-sync evaluation, and frame labelling from timed phonemes.
 * Phoneme names are eSpeak-ng mnemonics of its English voices (what libespeak-ng reports in
 * espeakEVENT_PHONEME events without the IPA option): `p b m`, `a aI aU A: V`, `O: oU u: U w`, `i: I E eI`, `_ _:`...
 */

/** Mouth shape classes that the evaluation scores. `other` (t d k s l r h ...) is labelled but not scored. */
export type VisemeClass = 'closed' | 'open' | 'rounded' | 'spread' | 'silence' | 'other';

/** Classes in table order (`other` last). */
export const VISEME_CLASSES: readonly VisemeClass[] = ['closed', 'open', 'rounded', 'spread', 'silence', 'other'];

/** Classes that have a "shown correctly" criterion. */
export const SCORED_CLASSES: readonly Exclude<VisemeClass, 'other'>[] = ['closed', 'open', 'rounded', 'spread', 'silence'];

/** A phoneme starting at `sample` (of its audio's own rate). */
export interface TimedPhoneme {
  /** Start, samples from the start of the audio. */
  sample: number;
  /** eSpeak mnemonic, e.g. `aI`, `p`, `_:`. */
  name: string;
}

const TABLE: Record<string, VisemeClass> = {};
function put(cls: VisemeClass, names: string): void {
  for (const n of names.split(/\s+/)) if (n) TABLE[n] = cls;
}
// Bilabials: lips meet.
put('closed', 'p b m m- p2 b2');
// Open: low and low-central vowels and diphthongs that start low (jaw down).
put('open', 'a a# a2 aa A: A@ A# aI aI@ aI3 aU aU@ V 0 e@ a@');
// Rounded: back rounded vowels, rounded diphthongs, /w/.
put('rounded', 'O: O O@ o@ oU o: OI u: U U@ u w W 3:r');
// Spread: front unrounded vowels (lips spread) and /j/.
put('spread', 'i: i I I2 I# i@ i@3 E e eI E2 E@ j');
// Pauses and the silence around speech.
put('silence', '_ _: _! _# _^ ||');

/** Viseme class of one eSpeak phoneme mnemonic; unknown or consonant names are `other`. */
export function phonemeToViseme(name: string): VisemeClass {
  const n = name.trim();
  if (n === '') return 'silence';
  const direct = TABLE[n];
  if (direct) return direct;
  // eSpeak variants carry digits, `#`, `;` or `'` modifiers (e.g. `@2`, `t#`, `n;`): try without them.
  const base = n.replace(/[0-9#;'!]+$/u, '');
  if (base !== n && base !== '') return TABLE[base] ?? 'other';
  if (n.startsWith('_')) return 'silence';
  return 'other';
}

/** A labelled stretch of audio from `sample` (of its audio's own rate) to the next segment's start. */
export interface LabelSegment {
  sample: number;
  cls: VisemeClass;
}

/**
 * Class of each video frame: the phoneme sounding at the frame's centre ((k + 1/2) / fps s).
 * Audio before the first phoneme and after `totalSamples` is silence; phonemes must be sorted by sample.
 */
export function labelFrames(phonemes: readonly TimedPhoneme[], sampleRate: number, fps: number, numFrames: number, totalSamples: number): VisemeClass[] {
  return labelSegments(phonemes.map((p) => ({ sample: p.sample, cls: phonemeToViseme(p.name) })), sampleRate, fps, numFrames, totalSamples);
}

/**
 * Class of each video frame: the segment containing the frame's centre ((k + 1/2) / fps s).
 * Audio before the first segment and after `totalSamples` is silence; segments must be sorted by sample.
 */
export function labelSegments(segments: readonly LabelSegment[], sampleRate: number, fps: number, numFrames: number, totalSamples: number): VisemeClass[] {
  if (!(sampleRate > 0) || !(fps > 0)) throw new TypeError(`sampleRate and fps must be > 0 [sampleRate:${sampleRate}, fps:${fps}]`);
  const out: VisemeClass[] = new Array<VisemeClass>(numFrames);
  let p = -1;
  for (let k = 0; k < numFrames; k++) {
    const centre = ((k + 0.5) / fps) * sampleRate;
    while (p + 1 < segments.length && segments[p + 1]!.sample <= centre) p++;
    out[k] = p < 0 || centre >= totalSamples ? 'silence' : segments[p]!.cls;
  }
  return out;
}
