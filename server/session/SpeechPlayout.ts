/** An event queued at a point of the stream: played out when everything before it has been. */
export interface PlayoutMark {
  id: string | undefined;
  /** Input samples before the mark. */
  at: number;
}

/** What one pull() produced. */
export interface PlayoutChunk {
  /** Samples at the input rate, in [-1, 1]; silence where the buffer ran dry. */
  pcm: Float32Array;
  /** Real (buffered) samples in `pcm`; the rest is silence. */
  realSamples: number;
  /** Marks whose position was reached, with the offset in `pcm` where each fell. */
  marks: { id: string | undefined; offset: number }[];
}

/**
 * Audio that arrives faster than real time (TTS) waits here and leaves at real time, by the wall clock.
 * When it runs dry the output is silence, so the session's clock never stops. Pure: time comes from the caller.
 */
export class SpeechPlayout {
  private chunks: Int16Array[] = [];
  /** Read position inside chunks[0]. */
  private head = 0;
  private buffered = 0;
  /** Input samples ever consumed from the buffer (marks are placed on this count). */
  private consumed = 0;
  private pushed = 0;
  private marks: PlayoutMark[] = [];
  private startedAt: number | undefined;
  /** Samples handed out since startedAt (real and silence). */
  private emitted = 0;

  constructor(
    readonly sampleRate: number,
    /** When the wall clock jumps further than this (a stalled event loop), skip ahead instead of bursting, ms. */
    private readonly maxCatchUpMs = 200,
  ) {}

  /** Queue PCM16 samples. */
  push(pcm: Int16Array): void {
    if (pcm.length === 0) return;
    this.chunks.push(pcm);
    this.buffered += pcm.length;
    this.pushed += pcm.length;
  }

  /** Queue a mark after everything pushed so far. */
  mark(id: string | undefined): void {
    this.marks.push({ id, at: this.pushed });
  }

  /** Barge-in: drop everything queued; returns the marks that will now never play. */
  clear(): PlayoutMark[] {
    this.consumed += this.buffered;
    this.chunks = [];
    this.head = 0;
    this.buffered = 0;
    return this.marks.splice(0);
  }

  get bufferedMs(): number {
    return (this.buffered * 1000) / this.sampleRate;
  }

  /** Everything due at `nowMs` since the first pull (real time, one sample per 1/sampleRate s). */
  pull(nowMs: number): PlayoutChunk {
    this.startedAt ??= nowMs;
    let due = Math.floor(((nowMs - this.startedAt) * this.sampleRate) / 1000) - this.emitted;
    const maxDue = Math.ceil((this.maxCatchUpMs * this.sampleRate) / 1000);
    if (due > maxDue) {
      this.emitted += due - maxDue;
      due = maxDue;
    }
    due = Math.max(0, due);
    const pcm = new Float32Array(due);
    let filled = 0;
    const marks: PlayoutChunk['marks'] = [];
    const passMarks = () => {
      while (this.marks.length > 0 && this.marks[0]!.at <= this.consumed) marks.push({ id: this.marks.shift()!.id, offset: filled });
    };
    passMarks();
    while (filled < due && this.chunks.length > 0) {
      const chunk = this.chunks[0]!;
      const take = Math.min(due - filled, chunk.length - this.head);
      for (let i = 0; i < take; i++) pcm[filled + i] = chunk[this.head + i]! / 32768;
      filled += take;
      this.head += take;
      this.consumed += take;
      this.buffered -= take;
      if (this.head === chunk.length) {
        this.chunks.shift();
        this.head = 0;
      }
      passMarks();
    }
    this.emitted += due;
    return { pcm, realSamples: filled, marks };
  }
}
