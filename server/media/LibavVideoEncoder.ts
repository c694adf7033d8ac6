import {
  AVCOL_RANGE_MPEG,
  AVCOL_SPC_SMPTE170M,
  AV_LOG_ERROR,
  AV_PICTURE_TYPE_I,
  AV_PICTURE_TYPE_NONE,
  AV_PIX_FMT_RGBA,
  AV_PIX_FMT_YUV420P,
  Codec,
  FF_ENCODER_LIBVPX_VP8,
  FF_ENCODER_LIBX264,
  CodecContext,
  Frame,
  Log,
  Packet,
  Rational,
  SWS_BILINEAR,
  SoftwareScaleContext,
} from 'node-av';
import { InvalidStateError } from '../errors.ts';
import { EncoderBase, type PendingFrame } from './EncoderBase.ts';
import type { VideoEncoderConfig } from './VideoEncoder.ts';
import type { AVPixelFormat } from 'node-av/constants';

/**
 * Encoder settings, measured on 512x512 talking-head frames (2-core machine, one thread):
 * x264 superfast + zerolatency + baseline ≈ 1.2 ms a frame (ultrafast 0.85 ms but no deblocking, veryfast 1.8 ms);
 * libvpx VP8 realtime ≈ 1.2 ms at cpu-used 4-12 (the webcodecs VP8 took 10-18 ms).
 */
const PRIVATE_OPTIONS = {
  h264: { preset: 'superfast', tune: 'zerolatency', profile: 'baseline', 'forced-idr': '1' },
  vp8: { deadline: 'realtime', 'cpu-used': '8', 'lag-in-frames': '0', 'auto-alt-ref': '0', 'error-resilient': '1' },
} as const;
const ENCODERS = { h264: FF_ENCODER_LIBX264, vp8: FF_ENCODER_LIBVPX_VP8 } as const;
const ENCODER_NAMES = { h264: 'libx264', vp8: 'libvpx' } as const;
/** Keyframes are ours to place (interval, PLI/FIR); the codec's own GOP is effectively infinite. */
const CODEC_GOP_FRAMES = 1 << 30;

// FFmpeg logs codec banners to stderr at info level; errors still reach the log.
Log.setLevel(AV_LOG_ERROR);

/** Whether node-av's FFmpeg has both encoders (the prebuilt binary ships them). */
export function libavEncodersAvailable(): boolean {
  return Codec.findEncoderByName(ENCODERS.h264) !== null && Codec.findEncoderByName(ENCODERS.vp8) !== null;
}

interface Pending extends PendingFrame {
  pts: bigint;
}

/**
 * RGBA -> Constrained Baseline H.264 (Annex B, SPS+PPS before every IDR) or VP8, through FFmpeg's libx264 and
 * libvpx in node-av. Encoding is synchronous (about a millisecond a frame), so encode() settles before it returns.
 * Uses node-av's low-level CodecContext: its high-level Encoder clears forced picture types (no keyframe on PLI) and
 * double-frees codec option dictionaries. Frames own their buffers (alloc + fromBuffer copies): Frame.fromVideoBuffer
 * keeps a pointer into the caller's Buffer and crashes once V8 collects it.
 */
export class LibavVideoEncoder extends EncoderBase<Pending> {
  private readonly context: CodecContext;
  private readonly scaler: SoftwareScaleContext;
  private readonly rgbaFrame: Frame;
  private readonly yuvFrame: Frame;
  private readonly packet: Packet;
  private nextPts = 0n;

  constructor(config: VideoEncoderConfig) {
    super(config);
    const { codec, width, height, fps, bitrateKbps } = this.config;
    const encoder = Codec.findEncoderByName(ENCODERS[codec]);
    if (!encoder) throw new InvalidStateError(`node-av's FFmpeg has no ${ENCODER_NAMES[codec]} encoder`);
    this.context = new CodecContext();
    this.context.allocContext3(encoder);
    const ctx = this.context;
    ctx.width = width;
    ctx.height = height;
    ctx.pixelFormat = AV_PIX_FMT_YUV420P;
    ctx.timeBase = new Rational(1, Math.round(fps));
    ctx.framerate = new Rational(Math.round(fps), 1);
    ctx.bitRate = BigInt(bitrateKbps * 1000);
    // One second of VBV: the rate stays near the target, with room for keyframes.
    ctx.rcMaxRate = BigInt(bitrateKbps * 1000);
    ctx.rcBufferSize = bitrateKbps * 1000;
    ctx.gopSize = CODEC_GOP_FRAMES;
    ctx.maxBFrames = 0;
    ctx.threadCount = 1;
    // BT.601 limited range is what swscale's RGB -> YUV produces; say so in the VUI.
    ctx.colorRange = AVCOL_RANGE_MPEG;
    ctx.colorSpace = AVCOL_SPC_SMPTE170M;
    // Private options through setOption: node-av's options dictionary is freed twice by open2 (a crash at exit).
    const failed = Object.entries(PRIVATE_OPTIONS[codec]).find(([name, value]) => ctx.setOption(name, value) < 0);
    const opened = failed ? 0 : ctx.open2Sync(encoder, null);
    if (failed || opened < 0) {
      ctx.freeContext();
      throw new InvalidStateError(failed ? `${ENCODER_NAMES[codec]} rejected option ${failed[0]}=${failed[1]}` : `could not open ${ENCODER_NAMES[codec]} (FFmpeg error ${opened}) [${width}x${height}]`);
    }
    this.scaler = new SoftwareScaleContext();
    this.scaler.getContext(width, height, AV_PIX_FMT_RGBA, width, height, AV_PIX_FMT_YUV420P, SWS_BILINEAR);
    this.scaler.initContext();
    this.rgbaFrame = ownedFrame(width, height, AV_PIX_FMT_RGBA);
    this.yuvFrame = ownedFrame(width, height, AV_PIX_FMT_YUV420P);
    this.yuvFrame.colorRange = AVCOL_RANGE_MPEG;
    this.yuvFrame.colorSpace = AVCOL_SPC_SMPTE170M;
    this.packet = new Packet();
    this.packet.alloc();
  }


  protected submit(rgba: Uint8Array, keyFrame: boolean, waiter: PendingFrame): void {
    const pts = this.nextPts++;
    this.pending.push({ ...waiter, pts });
    try {
      this.rgbaFrame.fromBuffer(Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength));
      // The codec may still reference the previous picture's buffers.
      this.yuvFrame.makeWritable();
      this.scaler.scaleFrameSync(this.yuvFrame, this.rgbaFrame);
      this.yuvFrame.pts = pts;
      this.yuvFrame.pictType = keyFrame ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
      const sent = this.context.sendFrameSync(this.yuvFrame);
      if (sent < 0) throw new Error(`send frame failed (FFmpeg error ${sent})`);
      this.drain();
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private drain(): void {
    while (this.context.receivePacketSync(this.packet) >= 0) {
      const pts = this.packet.pts;
      const keyframe = this.packet.isKeyframe;
      const bytes = this.packet.data;
      // A fresh ArrayBuffer per frame, so a worker can transfer it.
      const data = bytes ? new Uint8Array(bytes) : new Uint8Array(0);
      this.packet.unref();
      // Outputs come in submit order; anything older than this packet was dropped by the encoder (rate control).
      while (this.pending.length > 0 && this.pending[0]!.pts < pts) this.drop(this.pending.shift()!);
      const waiter = this.pending[0]?.pts === pts ? this.pending.shift() : undefined;
      if (waiter) this.deliver(waiter, data, keyframe);
    }
  }

  protected release(): void {
    this.context.freeContext();
    this.scaler.freeContext();
    this.rgbaFrame.free();
    this.yuvFrame.free();
    this.packet.free();
  }
}

function ownedFrame(width: number, height: number, format: AVPixelFormat): Frame {
  const frame = new Frame();
  frame.alloc();
  frame.width = width;
  frame.height = height;
  frame.format = format;
  const ret = frame.allocBuffer();
  if (ret < 0) throw new InvalidStateError(`could not allocate a ${width}x${height} frame (FFmpeg error ${ret})`);
  return frame;
}
