import { VideoEncoder as NativeVideoEncoder, VideoFrame } from '@napi-rs/webcodecs';
import type { EncodedVideoChunk } from '@napi-rs/webcodecs';
import { EncoderBase, type PendingFrame } from './EncoderBase.ts';
import type { VideoEncoderConfig } from './VideoEncoder.ts';

/** An encoder that returns nothing for this long with frames pending is failed, ms. */
const STALL_TIMEOUT_MS = 2000;

/**
 * RGBA -> H.264 (Annex B) or VP8 over @napi-rs/webcodecs, with keyframes under our control.
 * Uses latencyMode 'quality' because 'realtime' forces a keyframe every 10 frames here; 'quality'
 * still returns each frame right after its encode (no B-frames, no lookahead).
 * Note: the bundled x264 always produces High profile with CABAC whatever the codec string says, and its VP8
 * has no speed setting (10-18 ms a 512x512 frame): LibavVideoEncoder is the default where node-av loads.
 */
export class WebCodecsVideoEncoder extends EncoderBase {
  private readonly encoder: NativeVideoEncoder;
  /**
   * Watchdog while frames are pending. It also keeps the event loop alive: the native encoder's
   * output callback does not, so a script awaiting encode() would otherwise exit early.
   */
  private watchdog: NodeJS.Timeout | undefined;

  constructor(config: VideoEncoderConfig) {
    super(config);
    const { codec, width, height, fps, bitrateKbps } = this.config;
    this.encoder = new NativeVideoEncoder({
      output: (chunk) => this.onOutput(chunk),
      error: (err) => this.fail(err instanceof Error ? err : new Error(String(err))),
    });
    this.encoder.configure({
      codec: codec === 'h264' ? 'avc1.42e01f' : 'vp8',
      width,
      height,
      framerate: fps,
      bitrate: bitrateKbps * 1000,
      latencyMode: 'quality',
      ...(codec === 'h264' ? { avc: { format: 'annexb' as const } } : {}),
    });
  }

  protected submit(rgba: Uint8Array, keyFrame: boolean, waiter: PendingFrame): void {
    const { width, height } = this.config;
    const frame = new VideoFrame(rgba, { format: 'RGBA', codedWidth: width, codedHeight: height, timestamp: waiter.timestampUs });
    this.pending.push(waiter);
    this.armWatchdog();
    try {
      this.encoder.encode(frame, { keyFrame });
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    } finally {
      frame.close();
    }
  }

  protected release(): void {
    try {
      this.encoder.close();
    } catch {
      // Already closed by an error: nothing left to release.
    }
  }

  protected override rejectAll(err: Error): void {
    this.disarmWatchdog();
    super.rejectAll(err);
  }

  private onOutput(chunk: EncodedVideoChunk): void {
    const timestampUs = chunk.timestamp;
    // Outputs come in submit order; anything older than this chunk was dropped by the encoder.
    while (this.pending.length > 0 && this.pending[0]!.timestampUs !== timestampUs) this.drop(this.pending.shift()!);
    const waiter = this.pending.shift();
    if (!waiter) return;
    const data = new Uint8Array(chunk.byteLength);
    chunk.copyTo(data);
    this.deliver(waiter, data, chunk.type === 'key');
    if (this.pending.length === 0) this.disarmWatchdog();
    else this.watchdog?.refresh();
  }

  private armWatchdog(): void {
    if (this.watchdog) return;
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined;
      this.fail(new Error(`no output for ${STALL_TIMEOUT_MS} ms with ${this.pending.length} frame(s) pending`));
    }, STALL_TIMEOUT_MS);
  }

  private disarmWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }
}
