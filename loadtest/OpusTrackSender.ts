/**
 * Streams 48 kHz mono PCM as 20 ms Opus RTP packets on a werift audio track, paced like a microphone:
 * one packet every 20 ms on a timer re-aimed at start + n x 20 ms (jitter does not accumulate); after a stall
 * longer than 200 ms the missed audio is skipped with the RTP clock kept honest, not sent in a burst.
 */
import { performance } from 'node:perf_hooks';
import { RtpHeader, RtpPacket, type MediaStreamTrack } from 'werift';
import { OPUS_FRAME_SAMPLES, OpusEncoder } from '../server/media/OpusCodec.ts';

/** Opus packet duration (ms). */
export const AUDIO_PACKET_MS = 20;
/** When the event loop stalls longer than this, skip audio instead of bursting it (ms). */
const MAX_CATCH_UP_MS = 200;

/** Encoded Opus packets per PCM buffer, shared by every sender streaming the same audio. */
const encodedAudioCache = new WeakMap<Float32Array, Buffer[]>();

/** Encodes 48 kHz mono PCM into 20 ms Opus packets (last one zero-padded). */
export function encodeOpusPackets(audio: Float32Array): Buffer[] {
  const cached = encodedAudioCache.get(audio);
  if (cached) return cached;
  const encoder = new OpusEncoder();
  const frame = new Float32Array(OPUS_FRAME_SAMPLES);
  const packets: Buffer[] = [];
  for (let start = 0; start < audio.length; start += OPUS_FRAME_SAMPLES) {
    frame.fill(0);
    frame.set(audio.subarray(start, Math.min(start + OPUS_FRAME_SAMPLES, audio.length)));
    const packet = encoder.encodeFrame(frame);
    packets.push(Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength));
  }
  encodedAudioCache.set(audio, packets);
  return packets;
}

let silencePacket: Buffer | null = null;
function opusSilence(): Buffer {
  if (!silencePacket) {
    const packet = new OpusEncoder().encodeFrame(new Float32Array(OPUS_FRAME_SAMPLES));
    silencePacket = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
  }
  return silencePacket;
}

export interface OpusTrackSenderOptions {
  /** 48 kHz mono PCM in [-1, 1]. */
  audio: Float32Array;
  /** Start over at the end of `audio` (default false: silence after the end). */
  loop?: boolean;
}

export class OpusTrackSender {
  readonly counters = { sent: 0, skipped: 0 };
  private readonly packets: Buffer[];
  private readonly loop: boolean;
  private cursor = 0;
  private seq = Math.floor(Math.random() * 0x10000);
  private ts = Math.floor(Math.random() * 0x1_0000_0000);
  private timer: NodeJS.Timeout | null = null;
  private startMs = 0;
  private ticks = 0;
  private silenceLeft = 0;
  private paused = false;
  private talkspurt = true;
  private stopped = false;

  constructor(
    private readonly track: MediaStreamTrack,
    options: OpusTrackSenderOptions,
  ) {
    this.packets = encodeOpusPackets(options.audio);
    this.loop = options.loop ?? false;
  }

  /** The audio has been sent to its end (never true when looping). */
  get finished(): boolean {
    return !this.loop && this.cursor >= this.packets.length && this.silenceLeft === 0;
  }

  start(): void {
    this.startMs = performance.now();
    this.ticks = 0;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Sends `durationMs` of encoded silence before resuming the audio where it was. */
  insertSilence(durationMs: number): void {
    if (!(durationMs >= 0)) throw new TypeError(`invalid durationMs [durationMs:${durationMs}]`);
    this.silenceLeft += Math.round(durationMs / AUDIO_PACKET_MS);
  }

  /** Stops sending packets (the RTP clock keeps running, like a muted DTX sender). */
  pause(): void {
    this.paused = true;
  }

  /** Resumes after pause(); the next packet carries the marker bit. */
  resume(): void {
    if (this.paused) this.talkspurt = true;
    this.paused = false;
  }

  private schedule(): void {
    const due = this.startMs + (this.ticks + 1) * AUDIO_PACKET_MS;
    this.timer = setTimeout(() => this.onTick(), Math.max(0, due - performance.now()));
  }

  private onTick(): void {
    this.timer = null;
    if (this.stopped) return;
    const dueTicks = Math.floor((performance.now() - this.startMs) / AUDIO_PACKET_MS);
    let behind = dueTicks - this.ticks;
    if (behind > MAX_CATCH_UP_MS / AUDIO_PACKET_MS) {
      // The loop stalled: a real microphone would have lost this audio too. Skip it but keep the
      // RTP clock honest so the server sees a gap, not compressed time.
      const skip = behind - 1;
      this.counters.skipped += skip;
      this.ticks += skip;
      this.ts = (this.ts + skip * OPUS_FRAME_SAMPLES) >>> 0;
      this.advanceCursor(skip);
      this.talkspurt = true;
      behind = 1;
    }
    for (let i = 0; i < behind; i++) this.sendPacket();
    this.schedule();
  }

  private advanceCursor(packets: number): void {
    const n = this.packets.length;
    if (n === 0) return;
    this.cursor += packets;
    if (this.loop) this.cursor %= n;
  }

  private nextPayload(): Buffer {
    if (this.silenceLeft > 0) {
      this.silenceLeft--;
      return opusSilence();
    }
    const n = this.packets.length;
    if (this.cursor >= n) {
      if (!this.loop || n === 0) return opusSilence();
      this.cursor = 0;
    }
    return this.packets[this.cursor++]!;
  }

  private sendPacket(): void {
    this.ticks++;
    const payload = this.paused ? null : this.nextPayload();
    if (payload) {
      const header = new RtpHeader({
        payloadType: 111, // rewritten by the werift sender to the negotiated type
        sequenceNumber: this.seq,
        timestamp: this.ts,
        marker: this.talkspurt,
      });
      this.track.writeRtp(new RtpPacket(header, payload));
      this.seq = (this.seq + 1) & 0xffff;
      this.talkspurt = false;
      this.counters.sent++;
    }
    this.ts = (this.ts + OPUS_FRAME_SAMPLES) >>> 0;
  }
}
