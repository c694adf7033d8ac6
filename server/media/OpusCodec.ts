import opus from '@discordjs/opus';

/** Opus sample rate used everywhere in this project, Hz. */
export const OPUS_RATE = 48000;
/** Samples in one 20 ms frame at 48 kHz. */
export const OPUS_FRAME_SAMPLES = 960;

/**
 * Samples per frame for each of the 32 Opus TOC configurations at 48 kHz (RFC 6716 §3.1).
 * SILK 10/20/40/60 ms, Hybrid 10/20 ms, CELT 2.5/5/10/20 ms.
 */
const CONFIG_FRAME_SAMPLES = [
  480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 480, 960,
  120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960,
];

/** Converts Int16 PCM to Float32 in [-1, 1); writes into `out` when given (must be long enough). */
export function int16ToFloat32(pcm: Int16Array, out?: Float32Array): Float32Array {
  const dst = out ? out.subarray(0, pcm.length) : new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) dst[i] = pcm[i]! / 32768;
  return dst;
}

/** Converts Float32 in [-1, 1] to Int16 PCM (clipped); writes into `out` when given. */
export function float32ToInt16(pcm: Float32Array, out?: Int16Array): Int16Array {
  const dst = out ? out.subarray(0, pcm.length) : new Int16Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) {
    const v = pcm[i]! * 32768;
    dst[i] = v >= 32767 ? 32767 : v <= -32768 ? -32768 : Math.round(v);
  }
  return dst;
}

/** Int16 view of a native little-endian PCM buffer (copied only if misaligned). */
function pcmView(buf: Buffer): Int16Array {
  if ((buf.byteOffset & 1) === 0) return new Int16Array(buf.buffer, buf.byteOffset, buf.byteLength >> 1);
  const out = new Int16Array(buf.byteLength >> 1);
  for (let i = 0; i < out.length; i++) out[i] = buf.readInt16LE(i * 2);
  return out;
}

/** Decoder counters. */
export interface OpusDecoderStats {
  /** Packets decoded normally. */
  decoded: number;
  /** Lost packets concealed with Opus PLC. */
  concealed: number;
  /** Packets the decoder rejected (then concealed). */
  corrupt: number;
  /** Lost packets before any packet arrived: returned as silence (nothing to extrapolate from). */
  silentConcealed: number;
  /** Total samples produced (48 kHz). */
  samples: number;
}

/**
 * Mono 48 kHz Opus decoder with real packet-loss concealment.
 *
 * @discordjs/opus has no PLC or FEC entry point (it hard-codes decode_fec=0, and an empty buffer
 * conceals 120 ms at once), so a lost packet is decoded as a TOC-only packet carrying the last
 * packet's configuration: libopus treats a zero-length frame as lost and runs its PLC for
 * exactly that frame's duration. In-band FEC cannot be used through this binding.
 */
export class OpusDecoder {
  private native = new opus.OpusEncoder(OPUS_RATE, 1);
  /** TOC byte (code 0) of the last good packet; -1 before the first one. */
  private lastToc = -1;
  /** Samples in the last good packet, used as the duration of a concealed packet. */
  private lastPacketSamples = OPUS_FRAME_SAMPLES;
  private readonly stats: OpusDecoderStats = { decoded: 0, concealed: 0, corrupt: 0, silentConcealed: 0, samples: 0 };

  /** Decodes one Opus packet to mono Int16 PCM at 48 kHz (a fresh array); a corrupt packet is concealed instead. */
  decode(packet: Uint8Array): Int16Array {
    if (packet.length === 0) return this.conceal();
    let pcm: Buffer;
    try {
      pcm = this.native.decode(Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength));
    } catch {
      this.stats.corrupt++;
      return this.conceal();
    }
    const out = pcmView(pcm);
    this.lastToc = packet[0]! & 0xfc;
    this.lastPacketSamples = out.length;
    this.stats.decoded++;
    this.stats.samples += out.length;
    return out;
  }

  /** Decodes one packet to Float32 in [-1, 1) at 48 kHz; writes into `out` when given. */
  decodeFloat(packet: Uint8Array, out?: Float32Array): Float32Array {
    return int16ToFloat32(this.decode(packet), out);
  }

  /** Conceals one lost packet (same duration as the last good one, 20 ms by default) with Opus PLC. */
  conceal(): Int16Array {
    const samples = this.lastPacketSamples;
    if (this.lastToc < 0) {
      this.stats.silentConcealed++;
      this.stats.samples += samples;
      return new Int16Array(samples);
    }
    const out = new Int16Array(samples);
    const tocOnly = Buffer.from([this.lastToc]);
    const frameSamples = CONFIG_FRAME_SAMPLES[this.lastToc >> 3]!;
    for (let at = 0; at < samples; at += frameSamples) {
      const part = this.native.decode(tocOnly);
      const pcm = pcmView(part);
      out.set(pcm.subarray(0, Math.min(pcm.length, samples - at)), at);
    }
    this.stats.concealed++;
    this.stats.samples += samples;
    return out;
  }

  /** Conceals one lost packet as Float32; writes into `out` when given. */
  concealFloat(out?: Float32Array): Float32Array {
    return int16ToFloat32(this.conceal(), out);
  }

  /** Forgets decoder history (after `clear` or a stream restart); counters are kept. */
  reset(): void {
    this.native = new opus.OpusEncoder(OPUS_RATE, 1);
    this.lastToc = -1;
    this.lastPacketSamples = OPUS_FRAME_SAMPLES;
  }

  /** Counters for metrics. */
  toJSON(): OpusDecoderStats {
    return { ...this.stats };
  }
}

/** Options for OpusEncoder. */
export interface OpusEncoderOptions {
  /** Target bitrate, bits/s (default 32000). */
  bitrateBps?: number;
}

/** Mono 48 kHz Opus encoder producing 20 ms packets: the voice sent with the face, and the test and load-test clients. */
export class OpusEncoder {
  private readonly native = new opus.OpusEncoder(OPUS_RATE, 1);
  /** Carry-over of samples that did not fill a whole frame yet. */
  private readonly pending = new Int16Array(OPUS_FRAME_SAMPLES);
  private pendingLength = 0;
  private readonly frameBytes = Buffer.alloc(OPUS_FRAME_SAMPLES * 2);
  private packets = 0;

  constructor({ bitrateBps = 32000 }: OpusEncoderOptions = {}) {
    if (!Number.isInteger(bitrateBps) || bitrateBps < 6000 || bitrateBps > 510000) {
      throw new TypeError(`bitrateBps must be an integer in [6000, 510000], got ${bitrateBps}`);
    }
    this.native.setBitrate(bitrateBps);
  }

  /** Encodes exactly one 20 ms frame (960 samples, 48 kHz, Int16 or Float32 in [-1, 1]) to one packet. */
  encodeFrame(frame: Int16Array | Float32Array): Uint8Array {
    if (frame.length !== OPUS_FRAME_SAMPLES) {
      throw new TypeError(`frame must have ${OPUS_FRAME_SAMPLES} samples, got ${frame.length}`);
    }
    const pcm = frame instanceof Float32Array ? float32ToInt16(frame) : frame;
    for (let i = 0; i < OPUS_FRAME_SAMPLES; i++) this.frameBytes.writeInt16LE(pcm[i]!, i * 2);
    this.packets++;
    return new Uint8Array(this.native.encode(this.frameBytes));
  }

  /** Buffers any number of 48 kHz samples and returns one packet per completed 20 ms frame. */
  push(pcm: Int16Array | Float32Array): Uint8Array[] {
    const packets: Uint8Array[] = [];
    const ints = pcm instanceof Float32Array ? float32ToInt16(pcm) : pcm;
    let at = 0;
    while (at < ints.length) {
      const take = Math.min(OPUS_FRAME_SAMPLES - this.pendingLength, ints.length - at);
      this.pending.set(ints.subarray(at, at + take), this.pendingLength);
      this.pendingLength += take;
      at += take;
      if (this.pendingLength === OPUS_FRAME_SAMPLES) {
        packets.push(this.encodeFrame(this.pending));
        this.pendingLength = 0;
      }
    }
    return packets;
  }

  /** Drops buffered samples that have not formed a frame. */
  reset(): void {
    this.pendingLength = 0;
  }

  /** Counters. */
  toJSON(): { packets: number; pendingSamples: number } {
    return { packets: this.packets, pendingSamples: this.pendingLength };
  }
}
