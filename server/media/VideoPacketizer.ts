import { H264Packetizer, Vp8Packetizer, random16, splitH264NalUnits } from 'werift';
import type { RtpPacket } from 'werift';
import type { EncodedVideoFrame, VideoCodecName } from './VideoEncoder.ts';

/** RTP clock rate of video, Hz. */
export const VIDEO_CLOCK_RATE = 90000;

/** Options for VideoPacketizer. */
export interface VideoPacketizerOptions {
  /** 'h264' (RFC 6184, packetization-mode=1) or 'vp8' (RFC 7741). */
  codec: VideoCodecName;
  /** Negotiated RTP payload type. */
  payloadType: number;
  /** RTP SSRC of the video stream. */
  ssrc: number;
  /** Largest RTP payload, bytes (default 1200). */
  maxPayloadBytes?: number;
  /** First sequence number (default random). */
  initialSequenceNumber?: number;
}

/** Packetizer counters. */
export interface VideoPacketizerStats {
  /** Frames packetized. */
  frames: number;
  /** RTP packets produced. */
  packets: number;
  /** Payload bytes produced. */
  payloadBytes: number;
}

/** Converts a media time in µs to a 32-bit 90 kHz RTP timestamp, starting at `offset`. */
export function rtpTimestampFromUs(timestampUs: number, offset = 0): number {
  return (offset + Math.round((timestampUs * VIDEO_CLOCK_RATE) / 1e6)) >>> 0;
}

/**
 * Encoded frame -> RTP packets, ready for werift's `track.writeRtp` / `sender.sendRtp`.
 * H.264: Annex B in; single NAL, STAP-A for SPS+PPS, FU-A above the MTU (werift H264Packetizer).
 * VP8: 4-byte descriptor with 15-bit PictureID (werift Vp8Packetizer).
 * Marker bit on the last packet of each frame; sequence numbers continue across frames with 16-bit wrap.
 */
export class VideoPacketizer {
  /** Codec of the stream. */
  readonly codec: VideoCodecName;
  private readonly packetizer: H264Packetizer | Vp8Packetizer;
  private nextSequence: number;
  /** Latest SPS/PPS seen, re-sent on a keyframe that lacks them. */
  private parameterSets: Buffer[] = [];
  private readonly stats: VideoPacketizerStats = { frames: 0, packets: 0, payloadBytes: 0 };
  private readonly options: { payloadType: number; ssrc: number; maxPayloadBytes: number };

  constructor({ codec, payloadType, ssrc, maxPayloadBytes = 1200, initialSequenceNumber = random16() }: VideoPacketizerOptions) {
    if (codec !== 'h264' && codec !== 'vp8') throw new TypeError(`codec must be 'h264' or 'vp8', got ${String(codec)}`);
    if (!Number.isInteger(payloadType) || payloadType < 0 || payloadType > 127) throw new TypeError(`payloadType must be an integer in [0, 127], got ${payloadType}`);
    if (!Number.isInteger(ssrc) || ssrc < 0 || ssrc > 0xffffffff) throw new TypeError(`ssrc must be a 32-bit unsigned integer, got ${ssrc}`);
    if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 100 || maxPayloadBytes > 65000) {
      throw new TypeError(`maxPayloadBytes must be an integer in [100, 65000], got ${maxPayloadBytes}`);
    }
    this.codec = codec;
    this.nextSequence = initialSequenceNumber & 0xffff;
    this.options = { payloadType, ssrc, maxPayloadBytes };
    this.packetizer = this.makePacketizer();
  }

  /** Sequence number the next packet will carry. */
  get nextSequenceNumber(): number {
    return this.nextSequence;
  }

  /** Splits one encoded frame into RTP packets stamped with `rtpTimestamp` (90 kHz, see rtpTimestampFromUs). */
  packetize(frame: Pick<EncodedVideoFrame, 'data' | 'keyframe'>, rtpTimestamp: number): RtpPacket[] {
    const data = Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
    let packets: RtpPacket[];
    if (this.packetizer instanceof H264Packetizer) {
      if (frame.keyframe) this.rememberParameterSets(data);
      packets = this.packetizer.packetize(data, rtpTimestamp >>> 0, { isKeyframe: frame.keyframe });
    } else {
      packets = this.packetizer.packetize(data, rtpTimestamp >>> 0);
    }
    if (packets.length > 0) this.nextSequence = (packets[packets.length - 1]!.header.sequenceNumber + 1) & 0xffff;
    this.stats.frames++;
    this.stats.packets += packets.length;
    for (const p of packets) this.stats.payloadBytes += p.payload.length;
    return packets;
  }

  /** Counters. */
  toJSON(): VideoPacketizerStats {
    return { ...this.stats };
  }

  private makePacketizer(): H264Packetizer | Vp8Packetizer {
    const base = {
      payloadType: this.options.payloadType,
      ssrc: this.options.ssrc,
      maxPayloadSize: this.options.maxPayloadBytes,
      sequenceNumber: this.nextSequence,
    };
    if (this.codec === 'vp8') return new Vp8Packetizer(base);
    // The parameterSets array is read at each packetize(), so updating it in place is seen by werift.
    return new H264Packetizer({ ...base, inputFormat: 'annexb', parameterSets: this.parameterSets });
  }

  private rememberParameterSets(annexB: Buffer): void {
    const sets = splitH264NalUnits(annexB, 4, 'annexb').filter((n) => {
      const type = n[0]! & 0x1f;
      return type === 7 || type === 8;
    });
    if (sets.length === 0) return;
    // Copy: the caller may reuse or transfer the frame buffer.
    this.parameterSets.splice(0, this.parameterSets.length, ...sets.map((n) => Buffer.from(n)));
  }
}
