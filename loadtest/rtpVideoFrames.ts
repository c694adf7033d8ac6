/**
 * Reassembles received video RTP packets into complete encoded frames (H.264 Annex B or VP8), as a
 * browser's jitter buffer does before decoding: packets grouped by RTP timestamp, a frame complete at its
 * marker packet, frames whose marker never came given up.
 */
import { dePacketizeRtpPackets, type RtpPacket } from 'werift';

/** One complete received video frame. */
export interface EncodedVideoFrame {
  /** Annex B for H.264, the raw VP8 frame for VP8. */
  data: Buffer;
  /** 'video/H264' or 'video/VP8'. */
  mimeType: string;
  keyframe: boolean;
  rtpTimestamp: number;
  /** performance.now() at the arrival of the frame's last packet (ms). */
  arrivalMs: number;
}

/** What the assembler counted so far. */
export interface VideoFrameAssemblerCounters {
  packets: number;
  /** Sequence-number gaps (lost or reordered packets). */
  packetsMissing: number;
  /** Frames given up: marker never came, or the payload did not depacketize. */
  incompleteFrames: number;
  /** RTP payload bytes of the completed frames. */
  payloadBytes: number;
}

interface PendingFrame {
  timestamp: number;
  packets: RtpPacket[];
}

/** Frames whose marker packet never came are abandoned after this many newer frames. */
const MAX_PENDING_FRAMES = 8;

export class VideoFrameAssembler {
  readonly counters: VideoFrameAssemblerCounters = { packets: 0, packetsMissing: 0, incompleteFrames: 0, payloadBytes: 0 };
  /** SSRC of the last packet pushed (for a PLI); null before any. */
  ssrc: number | null = null;
  private readonly pending = new Map<number, PendingFrame>();
  private lastSeq: number | null = null;

  /** `mimeTypeOf` names the codec of a payload type (from the negotiated codecs). */
  constructor(private readonly mimeTypeOf: (payloadType: number) => string) {}

  /** Adds one packet; returns the frame it completes, if any. */
  push(rtp: RtpPacket, arrivalMs: number): EncodedVideoFrame | null {
    const c = this.counters;
    this.ssrc = rtp.header.ssrc;
    c.packets++;
    const seq = rtp.header.sequenceNumber;
    if (this.lastSeq !== null) {
      const gap = (seq - this.lastSeq - 1) & 0xffff;
      if (gap > 0 && gap < 0x8000) c.packetsMissing += gap;
    }
    if (this.lastSeq === null || ((seq - this.lastSeq) & 0xffff) < 0x8000) this.lastSeq = seq;

    const ts = rtp.header.timestamp;
    let frame = this.pending.get(ts);
    if (!frame) {
      frame = { timestamp: ts, packets: [] };
      this.pending.set(ts, frame);
      if (this.pending.size > MAX_PENDING_FRAMES) {
        const oldest = this.pending.keys().next().value!;
        this.pending.delete(oldest);
        c.incompleteFrames++;
      }
    }
    frame.packets.push(rtp);
    if (!rtp.header.marker) return null;

    this.pending.delete(ts);
    // Older frames still waiting for their marker will never complete in order.
    for (const [olderTs] of this.pending) {
      if (((ts - olderTs) >>> 0) < 0x8000_0000 && olderTs !== ts) {
        this.pending.delete(olderTs);
        c.incompleteFrames++;
      }
    }
    return this.complete(frame, arrivalMs);
  }

  /** Forgets frames in progress. */
  reset(): void {
    this.pending.clear();
  }

  private complete(frame: PendingFrame, arrivalMs: number): EncodedVideoFrame | null {
    const c = this.counters;
    const packets = frame.packets.sort((a, b) => {
      const d = (a.header.sequenceNumber - b.header.sequenceNumber) & 0xffff;
      return d === 0 ? 0 : d < 0x8000 ? 1 : -1;
    });
    const mimeType = this.mimeTypeOf(packets[0]!.header.payloadType);
    const depacketizer = mimeType.toLowerCase() === 'video/vp8' ? 'VP8' : 'MPEG4/ISO/AVC';
    let data: Buffer;
    let keyframe: boolean;
    try {
      const out = dePacketizeRtpPackets(depacketizer, packets);
      data = out.data;
      keyframe = out.isKeyframe;
    } catch {
      c.incompleteFrames++;
      return null;
    }
    if (data.length === 0) {
      c.incompleteFrames++;
      return null;
    }
    for (const p of packets) c.payloadBytes += p.payload.length;
    return { data, mimeType, keyframe, rtpTimestamp: frame.timestamp, arrivalMs };
  }
}
