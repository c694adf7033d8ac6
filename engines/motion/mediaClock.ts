import { AUDIO_RATE } from '../types.ts';

/**
 * The media clock of a motion stage: samples received since the stream start. After `clear` the stage
 * resumes at the first frame boundary at or after the audio received so far, dropping the new samples
 * before it, so frame k keeps showing media time [k/fps, (k+1)/fps). The frames whose audio the clear
 * dropped are skipped, never re-timed (re-timing shifted every later frame off its audio, ~80 ms per clear).
 */
export class MediaClock {
  private totalSamples = 0;
  private skipSamples = 0;

  constructor(private readonly frameMs: number) {}

  /** Count `pcm` on the clock; returns the part the stage should use (without samples before a resume boundary). */
  admit(pcm: Float32Array): Float32Array {
    this.totalSamples += pcm.length;
    if (this.skipSamples === 0) return pcm;
    const skip = Math.min(this.skipSamples, pcm.length);
    this.skipSamples -= skip;
    return pcm.subarray(skip);
  }

  /** On clear: the frame index to resume at (never below `nextIndex`) and its start, ms. */
  resume(nextIndex: number): { nextIndex: number; originMs: number } {
    const mediaMs = (this.totalSamples * 1000) / AUDIO_RATE;
    const resume = Math.max(nextIndex, Math.ceil(mediaMs / this.frameMs - 1e-9));
    const originMs = resume * this.frameMs;
    this.skipSamples = Math.max(0, Math.round(((originMs - mediaMs) * AUDIO_RATE) / 1000));
    return { nextIndex: resume, originMs };
  }
}
