/**
 * Decodes received H.264 / VP8 frames in Node with @napi-rs/webcodecs and hands out their luma planes,
 * each tagged with the RTP timestamp and arrival of the frame it came from. The decoder holds frames back
 * (reordering delay), so outputs are matched to inputs by the chunk timestamp we set, never by output time.
 */
import { EncodedVideoChunk, VideoDecoder, type VideoFrame } from '@napi-rs/webcodecs';
import type { EncodedVideoFrame } from './rtpVideoFrames.ts';

/** One decoded picture's luma plane. */
export interface DecodedLuma {
  width: number;
  height: number;
  /** Bytes per luma row. */
  stride: number;
  luma: Uint8Array;
  rtpTimestamp: number;
  /** performance.now() when the encoded frame's last packet arrived. */
  arrivalMs: number;
  keyframe: boolean;
}

export type DecoderCodec = 'h264' | 'vp8';

/** The codec of a negotiated mime type ('video/H264', 'video/VP8'). */
export function decoderCodecOf(mimeType: string): DecoderCodec {
  return mimeType.toLowerCase() === 'video/vp8' ? 'vp8' : 'h264';
}

/** Chunk timestamps are input indices at this spacing (µs); any increasing value would do. */
const CHUNK_SPACING_US = 40_000;

export class StreamingVideoDecoder {
  /** Frames given to the decoder, outputs received, and frames skipped while waiting for the first keyframe. */
  readonly counters = { decoded: 0, output: 0, skippedBeforeKeyframe: 0, errors: 0 };
  private readonly decoder: VideoDecoder;
  private readonly inputs = new Map<number, EncodedVideoFrame>();
  private nextIndex = 0;
  private started = false;
  /** Copies of decoded frames finish in output order through this chain. */
  private delivered: Promise<void> = Promise.resolve();
  private lastError: Error | null = null;

  constructor(
    codec: DecoderCodec,
    private readonly onPicture: (picture: DecodedLuma) => void,
  ) {
    this.decoder = new VideoDecoder({
      output: (frame) => this.onOutput(frame),
      error: (error: Error) => {
        this.counters.errors++;
        this.lastError = error;
      },
    });
    // The profile in the string only selects the H.264 decoder; it decodes High profile too.
    this.decoder.configure({ codec: codec === 'h264' ? 'avc1.42e01f' : 'vp8' });
  }

  /** The last error the decoder reported, if any. */
  get error(): Error | null {
    return this.lastError;
  }

  /** Queues one frame; frames before the first keyframe are skipped (returns false for those). */
  decode(frame: EncodedVideoFrame): boolean {
    if (!this.started && !frame.keyframe) {
      this.counters.skippedBeforeKeyframe++;
      return false;
    }
    this.started = true;
    const index = this.nextIndex++;
    this.inputs.set(index, frame);
    this.counters.decoded++;
    this.decoder.decode(
      new EncodedVideoChunk({ type: frame.keyframe ? 'key' : 'delta', timestamp: index * CHUNK_SPACING_US, data: new Uint8Array(frame.data) }),
    );
    return true;
  }

  /** Resolves once every queued frame has been output and handed to `onPicture`. */
  async flush(): Promise<void> {
    if (this.decoder.state === 'configured') await this.decoder.flush();
    await this.delivered;
  }

  close(): void {
    if (this.decoder.state !== 'closed') this.decoder.close();
    this.inputs.clear();
  }

  private onOutput(frame: VideoFrame): void {
    const index = Math.round(frame.timestamp / CHUNK_SPACING_US);
    const input = this.inputs.get(index);
    // Inputs up to this one are done: a decoder outputs in order, so older entries were dropped frames.
    for (const key of this.inputs.keys()) {
      if (key > index) break;
      this.inputs.delete(key);
    }
    const width = frame.codedWidth;
    const height = frame.codedHeight;
    const buffer = new Uint8Array(frame.allocationSize());
    const copied = frame.copyTo(buffer);
    this.delivered = this.delivered
      .then(async () => {
      try {
        const layout = await copied;
        const stride = layout[0]?.stride ?? width;
        const offset = layout[0]?.offset ?? 0;
        this.counters.output++;
        if (input) {
          this.onPicture({
            width,
            height,
            stride,
            luma: buffer.subarray(offset, offset + stride * height),
            rtpTimestamp: input.rtpTimestamp,
            arrivalMs: input.arrivalMs,
            keyframe: input.keyframe,
          });
        }
      } finally {
        frame.close();
      }
    })
      .catch((error: unknown) => {
        this.counters.errors++;
        this.lastError = error as Error;
      });
  }
}
