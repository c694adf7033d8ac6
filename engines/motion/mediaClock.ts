import { AUDIO_RATE } from '../types.ts';

/**
 * Where a motion stage resumes after `clear`, keeping frame k on media time [k/fps, (k+1)/fps):
 * the first frame boundary at or after the audio received so far, and how many of the next samples
 * to drop to reach it. The frames whose audio the clear dropped are skipped, never re-timed (re-timing
 * shifted every later frame off its audio, ~80 ms per clear).
 */
export function resumeAfterClear(totalSamples: number, nextIndex: number, frameMs: number): { nextIndex: number; originMs: number; skipSamples: number } {
  const mediaMs = (totalSamples * 1000) / AUDIO_RATE;
  const resume = Math.max(nextIndex, Math.ceil(mediaMs / frameMs - 1e-9));
  const originMs = resume * frameMs;
  return { nextIndex: resume, originMs, skipSamples: Math.max(0, Math.round(((originMs - mediaMs) * AUDIO_RATE) / 1000)) };
}
