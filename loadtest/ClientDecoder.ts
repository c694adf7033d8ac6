import type { EncodedVideoFrame } from './rtpVideoFrames.ts';
import { decoderCodecOf, StreamingVideoDecoder } from './videoLumaDecoder.ts';

/**
 * Decodes every frame a load-test client receives, in this process (as a browser would on the same machine), so the
 * load test's capacity figures include what real clients cost; the pictures are counted and dropped.
 */
export class ClientDecoder {
  private decoder: StreamingVideoDecoder | null = null;
  private pictures = 0;

  readonly onFrame = (frame: EncodedVideoFrame): void => {
    this.decoder ??= new StreamingVideoDecoder(decoderCodecOf(frame.mimeType), () => this.pictures++);
    this.decoder.decode(frame);
  };

  /** Stop; returns the pictures decoded and the decoder's errors. */
  close(): { frames: number; errors: number } {
    const errors = this.decoder?.counters.errors ?? 0;
    this.decoder?.close();
    this.decoder = null;
    return { frames: this.pictures, errors };
  }
}
