import { RtpHeader, RtpPacket, random16, random32 } from 'werift';
import { OPUS_FRAME_SAMPLES, OPUS_RATE, OpusEncoder } from './OpusCodec.ts';

/** Samples of 48 kHz audio per 16 kHz sample of the media clock. */
const UPSAMPLE = OPUS_RATE / 16000;
/** A write further than this from where the media clock says it belongs is re-aligned (resampler start-up, stalls). */
const REALIGN_SAMPLES = OPUS_FRAME_SAMPLES;

/** Options for VoiceOut. */
export interface VoiceOutOptions {
  /** Opus bitrate, bits/s. */
  bitrateBps: number;
  /** Audio kept for packets not sent yet, s (default 4). */
  bufferS?: number;
}

/**
 * The session's voice on its way out. The driving audio is kept at 48 kHz by media time (the session's clock);
 * its 20 ms Opus packets are cut when the video frame showing the same media time goes on the wire. Both tracks
 * then leave at the same instant for the same media time, so the voice is delayed by exactly the video's latency
 * and werift's sender reports (NTP of the last packet's send time) put both on one clock for the receiver's lip sync.
 */
export class VoiceOut {
  private readonly ring: Float32Array;
  /** Absolute 48 kHz sample index of the next write. */
  private writePos = 0;
  /** Index of the next 20 ms packet to send. */
  private nextBlock = 0;
  private readonly encoder: OpusEncoder;
  private readonly block = new Float32Array(OPUS_FRAME_SAMPLES);
  private sequence = random16();
  private readonly timestampBase = random32();
  private readonly stats = { packets: 0, silencedMs: 0, realigned: 0 };

  constructor({ bitrateBps, bufferS = 4 }: VoiceOutOptions) {
    this.encoder = new OpusEncoder({ bitrateBps });
    this.ring = new Float32Array(Math.ceil(bufferS * OPUS_RATE));
  }

  /**
   * Append audio that the media clock places at `clock16k` (its 16 kHz sample position before this chunk).
   * `pcm48` null means silence of `samples16k` clock samples (idle fill, concealment without a voice).
   */
  write(pcm48: Float32Array | null, samples16k: number, clock16k: number): void {
    const expected = clock16k * UPSAMPLE;
    if (Math.abs(this.writePos - expected) > REALIGN_SAMPLES) {
      if (expected > this.writePos) this.fill(null, expected - this.writePos);
      else this.writePos = expected;
      this.stats.realigned++;
    }
    if (pcm48) this.fill(pcm48, pcm48.length);
    else this.fill(null, samples16k * UPSAMPLE);
  }

  /** Barge-in: audio not sent yet becomes silence (the media clock keeps its place). */
  silenceUnsent(): void {
    const from = this.nextBlock * OPUS_FRAME_SAMPLES;
    const n = Math.max(0, Math.min(this.writePos - from, this.ring.length));
    for (let i = 0; i < n; i++) this.ring[(from + i) % this.ring.length] = 0;
    this.stats.silencedMs += Math.round((n / OPUS_RATE) * 1000);
  }

  /** RTP packets for every 20 ms block that starts at or before `mediaMs` and is fully written. */
  packetsUpTo(mediaMs: number): RtpPacket[] {
    const lastBlock = Math.floor((mediaMs * OPUS_RATE) / 1000 / OPUS_FRAME_SAMPLES);
    const oldest = Math.ceil((this.writePos - this.ring.length) / OPUS_FRAME_SAMPLES);
    if (this.nextBlock < oldest) this.nextBlock = oldest; // fell out of the buffer: skip rather than send stale audio
    const packets: RtpPacket[] = [];
    while (this.nextBlock <= lastBlock && (this.nextBlock + 1) * OPUS_FRAME_SAMPLES <= this.writePos) {
      const start = this.nextBlock * OPUS_FRAME_SAMPLES;
      for (let i = 0; i < OPUS_FRAME_SAMPLES; i++) this.block[i] = this.ring[(start + i) % this.ring.length]!;
      const payload = Buffer.from(this.encoder.encodeFrame(this.block));
      const header = new RtpHeader({
        payloadType: 111, // the sender rewrites payload type and SSRC to what it negotiated
        sequenceNumber: this.sequence,
        timestamp: (this.timestampBase + start) >>> 0,
        ssrc: 0,
        marker: false,
      });
      this.sequence = (this.sequence + 1) & 0xffff;
      packets.push(new RtpPacket(header, payload));
      this.nextBlock++;
    }
    this.stats.packets += packets.length;
    return packets;
  }

  /** Advance past blocks up to `mediaMs` without encoding them (nobody listens). */
  skipUpTo(mediaMs: number): void {
    const lastBlock = Math.floor((mediaMs * OPUS_RATE) / 1000 / OPUS_FRAME_SAMPLES);
    const written = Math.floor(this.writePos / OPUS_FRAME_SAMPLES) - 1;
    this.nextBlock = Math.max(this.nextBlock, Math.min(lastBlock, written) + 1);
  }

  /** Counters for session stats. */
  toJSON(): { packets: number; silencedMs: number; realigned: number; bufferedMs: number } {
    const bufferedMs = Math.round(((this.writePos - this.nextBlock * OPUS_FRAME_SAMPLES) / OPUS_RATE) * 1000);
    return { ...this.stats, bufferedMs };
  }

  private fill(pcm: Float32Array | null, n: number): void {
    const len = this.ring.length;
    for (let i = 0; i < n; i++) this.ring[(this.writePos + i) % len] = pcm ? pcm[i]! : 0;
    this.writePos += n;
  }
}
