import type { RtpPacket } from 'werift';
import type { Logger } from '../logger.ts';
import { JitterBuffer, type JitterBufferOutput } from './JitterBuffer.ts';
import { OpusDecoder } from './OpusCodec.ts';
import { Resampler } from './Resampler.ts';

/** A longer gap is a stream restart, not loss: conceal at most this many packets of it. */
const MAX_CONCEALED_PACKETS = 5;

/** One released 20 ms (usually) piece of received audio. */
export interface ReceivedAudio {
  /** 48 kHz mono, owned by the receiver of the callback. */
  pcm48: Float32Array;
  /** The same audio at 16 kHz, owned by the receiver of the callback. */
  pcm16: Float32Array;
  /** Packet lost and concealed. */
  concealed: boolean;
  /** Wall-clock ms at which it was released. */
  arrivalMs: number;
}

/** Received Opus RTP -> reordered (jitter buffer), decoded with loss concealment, resampled to 16 kHz. */
export class OpusReceiver {
  private readonly jitter: JitterBuffer<Buffer>;
  private readonly opus = new OpusDecoder();
  /** The first real packet has been delivered. */
  started = false;
  readonly stats = { packetsReceived: 0, packetsLost: 0 };

  private constructor(
    private readonly resampler: Resampler,
    jitterBufferMs: number,
    private readonly deliver: (audio: ReceivedAudio) => void,
    private readonly log: Logger,
  ) {
    this.jitter = new JitterBuffer<Buffer>({ maxDelayMs: jitterBufferMs, maxPackets: 64 });
  }

  static async create(jitterBufferMs: number, deliver: (audio: ReceivedAudio) => void, log: Logger): Promise<OpusReceiver> {
    const resampler = await Resampler.create({ inputRate: 48000, outputRate: 16000, maxInputSamples: 5760 });
    return new OpusReceiver(resampler, jitterBufferMs, deliver, log);
  }

  push(rtp: RtpPacket, nowMs: number): void {
    this.stats.packetsReceived++;
    this.release(this.jitter.push(rtp.header.sequenceNumber, rtp.payload, nowMs), nowMs);
  }

  /** Release audio the jitter buffer gave up waiting for. */
  poll(nowMs: number): void {
    this.release(this.jitter.poll(nowMs), nowMs);
  }

  /** Barge-in: forget what waits in the jitter buffer. */
  reset(): void {
    this.jitter.reset();
  }

  close(): void {
    this.resampler.close();
  }

  private release(outputs: JitterBufferOutput<Buffer>[], nowMs: number): void {
    for (const out of outputs) {
      if (out.kind === 'packet') this.decode(out.packet, nowMs);
      else for (let i = 0; i < Math.min(out.count, MAX_CONCEALED_PACKETS); i++) this.decode(null, nowMs);
    }
  }

  private decode(payload: Buffer | null, arrivalMs: number): void {
    let pcm48: Float32Array;
    if (payload === null) {
      this.stats.packetsLost++;
      pcm48 = this.opus.concealFloat();
    } else {
      this.started = true;
      try {
        pcm48 = this.opus.decodeFloat(payload);
      } catch (err) {
        this.log.debug({ err: (err as Error).message }, 'undecodable opus packet; concealing');
        pcm48 = this.opus.concealFloat();
      }
    }
    // Copy out of the resampler's reusable buffer: the copy is transferred to the worker.
    const pcm16 = this.resampler.push(pcm48).slice();
    this.deliver({ pcm48, pcm16, concealed: payload === null, arrivalMs });
  }
}
