/**
 * Reorder buffer for RTP audio: releases packets in sequence order as soon as they are in order
 * (no added delay on a clean stream), holds packets behind a gap for at most `maxDelayMs`, then
 * reports the gap as lost so the decoder can conceal it.
 *
 * Written here rather than using werift's JitterBufferBase because that one detects loss only when a
 * later packet's RTP timestamp passes its latency (no wall-clock wait, no explicit clock for tests),
 * does not tell late from duplicate packets and keeps an unbounded object map.
 */

/** Options for JitterBuffer. */
export interface JitterBufferOptions {
  /** Span of sequence numbers held at once, packets (default 50 = 1 s of 20 ms audio). */
  maxPackets?: number;
  /** Longest a packet waits behind a gap before the gap is declared lost, ms (default 60). */
  maxDelayMs?: number;
  /** A forward jump larger than this is a stream restart, not loss, packets (default 1000). */
  maxDropout?: number;
  /** This many late packets in a row mean the sender restarted lower: resync (default 16). */
  maxConsecutiveLate?: number;
}

/** One released item: a packet in order, or a run of lost sequence numbers to conceal. */
export type JitterBufferOutput<T> =
  | { kind: 'packet'; sequenceNumber: number; packet: T }
  | { kind: 'lost'; sequenceNumber: number; count: number };

/** Counters (packets unless noted). */
export interface JitterBufferStats {
  /** push() calls. */
  received: number;
  /** Packets released in order. */
  released: number;
  /** Packets that arrived after a higher sequence number and were still in time. */
  reordered: number;
  /** Sequence numbers declared lost. */
  lost: number;
  /** Packets arriving after their slot was declared lost or was too old; dropped. */
  late: number;
  /** Packets already held or already released; dropped. */
  duplicate: number;
  /** Times a packet beyond the span forced gaps to be declared lost early. */
  overflow: number;
  /** Stream restarts (large jump or a run of late packets). */
  resync: number;
  /** Packets held now. */
  buffered: number;
}

const HISTORY = 1024;

/** Bounded RTP reorder buffer keyed by 16-bit sequence number (wrap-safe); generic over the packet type. */
export class JitterBuffer<T> {
  private readonly maxPackets: number;
  private readonly maxDelayMs: number;
  private readonly maxDropout: number;
  private readonly maxConsecutiveLate: number;
  /** Held packets, slot = extended sequence number mod maxPackets. */
  private readonly slots: (T | undefined)[];
  private readonly slotSeq: Float64Array;
  private readonly slotArrivalMs: Float64Array;
  /** Extended sequence number of the recently released ones (+1; 0 = empty), to tell duplicates from late packets. */
  private readonly releasedHistory = new Float64Array(HISTORY);
  /** Extended (unwrapped) sequence number expected next; NaN before the first packet. */
  private nextSeq = Number.NaN;
  private highestSeq = Number.NaN;
  private consecutiveLate = 0;
  private readonly stats: JitterBufferStats = {
    received: 0, released: 0, reordered: 0, lost: 0, late: 0, duplicate: 0, overflow: 0, resync: 0, buffered: 0,
  };

  constructor({ maxPackets = 50, maxDelayMs = 60, maxDropout = 1000, maxConsecutiveLate = 16 }: JitterBufferOptions = {}) {
    if (!Number.isInteger(maxPackets) || maxPackets < 1 || maxPackets > HISTORY) {
      throw new TypeError(`maxPackets must be an integer in [1, ${HISTORY}], got ${maxPackets}`);
    }
    if (!(maxDelayMs >= 0)) throw new TypeError(`maxDelayMs must be >= 0, got ${maxDelayMs}`);
    if (!Number.isInteger(maxDropout) || maxDropout < maxPackets || maxDropout > 32767) {
      throw new TypeError(`maxDropout must be an integer in [maxPackets, 32767], got ${maxDropout}`);
    }
    this.maxPackets = maxPackets;
    this.maxDelayMs = maxDelayMs;
    this.maxDropout = maxDropout;
    this.maxConsecutiveLate = maxConsecutiveLate;
    this.slots = new Array<T | undefined>(maxPackets).fill(undefined);
    this.slotSeq = new Float64Array(maxPackets).fill(-1);
    this.slotArrivalMs = new Float64Array(maxPackets);
  }

  /** Adds a packet with its 16-bit RTP sequence number, arrived at `nowMs`; returns what can be released now. */
  push(sequenceNumber: number, packet: T, nowMs: number): JitterBufferOutput<T>[] {
    const out: JitterBufferOutput<T>[] = [];
    this.stats.received++;
    const seq16 = sequenceNumber & 0xffff;
    if (Number.isNaN(this.nextSeq)) this.start(seq16);
    // Unwrap relative to the next expected number: the nearest extended number with these low 16 bits.
    const delta = ((seq16 - (this.nextSeq % 65536) + 32768 + 65536) % 65536) - 32768;
    let ext = this.nextSeq + delta;
    if (delta < 0) {
      this.onBehind(ext, seq16, packet, nowMs, out);
      return out;
    }
    this.consecutiveLate = 0;
    if (delta > this.maxDropout) {
      this.restart(seq16, out);
      ext = this.nextSeq;
    } else if (delta >= this.maxPackets) {
      // Beyond the span: give up waiting for the oldest gaps so the packet fits.
      this.stats.overflow++;
      this.advanceTo(ext - this.maxPackets + 1, out);
    }
    this.store(ext, packet, nowMs);
    this.release(nowMs, out);
    return out;
  }

  /** Releases what is due at `nowMs` (gaps whose wait expired); call on a timer or before pulling audio. */
  poll(nowMs: number): JitterBufferOutput<T>[] {
    const out: JitterBufferOutput<T>[] = [];
    if (this.stats.buffered > 0) this.release(nowMs, out);
    return out;
  }

  /** Releases everything held, declaring the gaps between held packets lost (end of stream). */
  flush(): JitterBufferOutput<T>[] {
    const out: JitterBufferOutput<T>[] = [];
    if (this.stats.buffered > 0) this.advanceTo(this.highestSeq + 1, out);
    return out;
  }

  /** Drops everything held and forgets the sequence (on `clear`); counters are kept. */
  reset(): void {
    this.slots.fill(undefined);
    this.slotSeq.fill(-1);
    this.releasedHistory.fill(0);
    this.nextSeq = Number.NaN;
    this.highestSeq = Number.NaN;
    this.consecutiveLate = 0;
    this.stats.buffered = 0;
  }

  /** Counters. */
  toJSON(): JitterBufferStats {
    return { ...this.stats };
  }

  private start(seq16: number): void {
    // Offset so extended numbers stay positive when early packets arrive behind the first one.
    this.nextSeq = seq16 + 65536;
    this.highestSeq = this.nextSeq - 1;
  }

  private onBehind(ext: number, seq16: number, packet: T, nowMs: number, out: JitterBufferOutput<T>[]): void {
    if (this.releasedHistory[ext % HISTORY] === ext + 1) {
      this.stats.duplicate++;
      return;
    }
    if (++this.consecutiveLate < this.maxConsecutiveLate) {
      this.stats.late++;
      return;
    }
    // The sender restarted with lower numbers: follow it.
    this.restart(seq16, out);
    this.store(this.nextSeq, packet, nowMs);
    this.release(nowMs, out);
  }

  /** Flushes held packets in order (no loss reported across a restart) and starts over at seq16. */
  private restart(seq16: number, out: JitterBufferOutput<T>[]): void {
    this.stats.resync++;
    for (let s = this.nextSeq; s <= this.highestSeq && this.stats.buffered > 0; s++) {
      const i = s % this.maxPackets;
      if (this.slotSeq[i] === s) this.emit(s, i, out);
    }
    this.reset();
    this.start(seq16);
  }

  private store(ext: number, packet: T, nowMs: number): void {
    const i = ext % this.maxPackets;
    if (this.slotSeq[i] === ext) {
      this.stats.duplicate++;
      return;
    }
    if (ext < this.highestSeq) this.stats.reordered++;
    else this.highestSeq = ext;
    this.slots[i] = packet;
    this.slotSeq[i] = ext;
    this.slotArrivalMs[i] = nowMs;
    this.stats.buffered++;
  }

  /** Emits in-order packets; when a gap has held the oldest packet for maxDelayMs, declares it lost and goes on. */
  private release(nowMs: number, out: JitterBufferOutput<T>[]): void {
    while (this.stats.buffered > 0) {
      const i = this.nextSeq % this.maxPackets;
      if (this.slotSeq[i] === this.nextSeq) {
        this.emit(this.nextSeq, i, out);
        this.nextSeq++;
        continue;
      }
      let oldestArrival = Number.POSITIVE_INFINITY;
      let firstHeld = Number.NaN;
      for (let s = this.nextSeq + 1; s <= this.highestSeq; s++) {
        const j = s % this.maxPackets;
        if (this.slotSeq[j] !== s) continue;
        if (Number.isNaN(firstHeld)) firstHeld = s;
        oldestArrival = Math.min(oldestArrival, this.slotArrivalMs[j]!);
      }
      if (nowMs - oldestArrival < this.maxDelayMs) return;
      this.declareLost(firstHeld, out);
    }
  }

  /** Moves the expected number up to `target`, emitting held packets and declaring the gaps lost. */
  private advanceTo(target: number, out: JitterBufferOutput<T>[]): void {
    while (this.nextSeq < target) {
      const i = this.nextSeq % this.maxPackets;
      if (this.slotSeq[i] === this.nextSeq) {
        this.emit(this.nextSeq, i, out);
        this.nextSeq++;
        continue;
      }
      let end = this.nextSeq + 1;
      while (end < target && this.slotSeq[end % this.maxPackets] !== end) end++;
      this.declareLost(end, out);
    }
  }

  /** Reports [nextSeq, end) as one lost run. */
  private declareLost(end: number, out: JitterBufferOutput<T>[]): void {
    const count = end - this.nextSeq;
    out.push({ kind: 'lost', sequenceNumber: this.nextSeq % 65536, count });
    this.stats.lost += count;
    this.nextSeq = end;
  }

  private emit(ext: number, slot: number, out: JitterBufferOutput<T>[]): void {
    out.push({ kind: 'packet', sequenceNumber: ext % 65536, packet: this.slots[slot] as T });
    this.slots[slot] = undefined;
    this.slotSeq[slot] = -1;
    this.releasedHistory[ext % HISTORY] = ext + 1;
    this.stats.released++;
    this.stats.buffered--;
  }
}
