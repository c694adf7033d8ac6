/**
 * Encodes RGBA frames and PCM audio and muxes them into one file with mediabunny (pure JS):
 * MP4 = H.264 (AVCC) + AAC-LC, WebM = VP8 + Opus. Encoders are @napi-rs/webcodecs.
 * Video is written first, then audio; with `fastStart: 'in-memory'` / WebM cues the muxer interleaves
 * nothing itself, so the whole file is held in memory until finish() (fine for offline clips).
 */
import { AudioData, AudioEncoder, VideoEncoder, VideoFrame } from '@napi-rs/webcodecs';
import type { EncodedAudioChunk, EncodedAudioChunkMetadata, EncodedVideoChunk, EncodedVideoChunkMetadata } from '@napi-rs/webcodecs';
import {
  BufferTarget, EncodedAudioPacketSource, EncodedPacket, EncodedVideoPacketSource, Mp4OutputFormat, Output, WebMOutputFormat,
} from 'mediabunny';

/** Container formats the writer produces. */
export type ContainerFormat = 'mp4' | 'webm';

/** Options of a MediaFileWriter. */
export interface MediaFileWriterOptions {
  format: ContainerFormat;
  /** Frame size, px (even). */
  width: number;
  height: number;
  /** Frames per second. */
  fps: number;
  /** Video bitrate, kbit/s (default 2000). */
  videoBitrateKbps?: number;
  /** A keyframe every this many frames (default 2 s worth). */
  keyframeIntervalFrames?: number;
  /** Audio sample rate, Hz (48000 suits both AAC and Opus). */
  audioRate: number;
  /** Audio bitrate, bit/s (default 96000). */
  audioBitrate?: number;
}

/** The colour description of what the encoder really produces: libyuv's BT.601 limited-range YUV from RGBA. */
const VIDEO_COLOR_SPACE = { primaries: 'smpte170m', transfer: 'smpte170m', matrix: 'smpte170m', fullRange: false } as const;

const AUDIO_BLOCK = 4800; // samples per AudioData (100 ms at 48 kHz)

/** Writes one audio + video file; call addFrame() for every frame in order, then finish(audio). */
export class MediaFileWriter {
  readonly options: Readonly<Required<MediaFileWriterOptions>>;
  private readonly output: Output;
  private readonly target = new BufferTarget();
  private readonly videoSource: EncodedVideoPacketSource;
  private readonly audioSource: EncodedAudioPacketSource;
  private readonly videoEncoder: VideoEncoder;
  private started: Promise<void>;
  /** Packets go to the muxer one after another (mediabunny's add() is not re-entrant). */
  private chain: Promise<void> = Promise.resolve();
  private error: Error | undefined;
  private frames = 0;
  private audioEndUs = 0;
  /** Keeps the event loop alive while the native encoder works (its callbacks do not). */
  private readonly keepAlive = setInterval(() => undefined, 1000);

  constructor(opts: MediaFileWriterOptions) {
    const { format, width, height, fps, audioRate } = opts;
    this.options = Object.freeze({
      format,
      width,
      height,
      fps,
      audioRate,
      videoBitrateKbps: opts.videoBitrateKbps ?? 2000,
      keyframeIntervalFrames: opts.keyframeIntervalFrames ?? Math.round(2 * fps),
      audioBitrate: opts.audioBitrate ?? 96000,
    });
    if (format !== 'mp4' && format !== 'webm') throw new TypeError(`format must be 'mp4' or 'webm', got ${String(format)}`);
    if (!(width >= 16 && height >= 16 && width % 2 === 0 && height % 2 === 0)) {
      throw new TypeError(`width and height must be even and >= 16 px [width:${width}, height:${height}]`);
    }
    this.output = new Output({
      format: format === 'mp4' ? new Mp4OutputFormat({ fastStart: 'in-memory' }) : new WebMOutputFormat(),
      target: this.target,
    });
    this.videoSource = new EncodedVideoPacketSource(format === 'mp4' ? 'avc' : 'vp8');
    this.audioSource = new EncodedAudioPacketSource(format === 'mp4' ? 'aac' : 'opus');
    this.output.addVideoTrack(this.videoSource, { frameRate: fps });
    this.output.addAudioTrack(this.audioSource);
    this.started = this.output.start();

    this.videoEncoder = new VideoEncoder({
      output: (chunk, meta) => this.onVideo(chunk, meta),
      error: (err) => this.fail(err instanceof Error ? err : new Error(String(err))),
    });
    this.videoEncoder.configure({
      codec: format === 'mp4' ? 'avc1.42e01f' : 'vp8',
      width,
      height,
      framerate: fps,
      bitrate: this.options.videoBitrateKbps * 1000,
      // 'quality': 'realtime' forces a keyframe every 10 frames with this encoder (see server/media/VideoEncoder.ts).
      latencyMode: 'quality',
      ...(format === 'mp4' ? { avc: { format: 'avc' as const } } : {}),
    });
  }

  /** Frames submitted so far. */
  get frameCount(): number {
    return this.frames;
  }

  /** Encode one RGBA frame (width*height*4 bytes); frame i is shown at i / fps s. */
  async addFrame(rgba: Uint8Array): Promise<void> {
    this.throwIfFailed();
    const { width, height, fps, keyframeIntervalFrames } = this.options;
    if (rgba.length !== width * height * 4) throw new TypeError(`frame must be ${width}x${height}x4 bytes, got ${rgba.length}`);
    const i = this.frames++;
    const frame = new VideoFrame(rgba, {
      format: 'RGBA',
      codedWidth: width,
      codedHeight: height,
      timestamp: Math.round((i * 1e6) / fps),
      duration: Math.round(1e6 / fps),
    });
    try {
      this.videoEncoder.encode(frame, { keyFrame: i % keyframeIntervalFrames === 0 });
    } finally {
      frame.close();
    }
    // Backpressure: let the encoder and muxer catch up before queueing more frames.
    if (this.videoEncoder.encodeQueueSize > 8) await this.chain;
  }

  /** Encode `audio` (mono, audioRate Hz), flush everything and return the file's bytes. */
  async finish(audio: Float32Array): Promise<Uint8Array> {
    try {
      await this.videoEncoder.flush();
      this.videoEncoder.close();
      this.throwIfFailed();
      await this.encodeAudio(audio);
      await this.chain;
      this.throwIfFailed();
      await this.output.finalize();
      const buffer = this.target.buffer;
      if (!buffer) throw new Error('muxer produced no data');
      return new Uint8Array(buffer);
    } finally {
      this.close();
    }
  }

  /** Release the encoders (idempotent); an unfinished file is dropped. */
  close(): void {
    clearInterval(this.keepAlive);
    if (this.videoEncoder.state !== 'closed') this.videoEncoder.close();
  }

  private async encodeAudio(audio: Float32Array): Promise<void> {
    const { format, audioRate, audioBitrate } = this.options;
    const encoder = new AudioEncoder({
      output: (chunk, meta) => this.onAudio(chunk, meta),
      error: (err) => this.fail(err instanceof Error ? err : new Error(String(err))),
    });
    try {
      encoder.configure({ codec: format === 'mp4' ? 'mp4a.40.2' : 'opus', sampleRate: audioRate, numberOfChannels: 1, bitrate: audioBitrate });
      for (let at = 0; at < audio.length; at += AUDIO_BLOCK) {
        const block = audio.slice(at, Math.min(audio.length, at + AUDIO_BLOCK));
        const data = new AudioData({ format: 'f32', sampleRate: audioRate, numberOfChannels: 1, numberOfFrames: block.length, timestamp: Math.round((at * 1e6) / audioRate), data: block });
        try {
          encoder.encode(data);
        } finally {
          data.close();
        }
      }
      await encoder.flush();
    } finally {
      if (encoder.state !== 'closed') encoder.close();
    }
  }

  private onVideo(chunk: EncodedVideoChunk, meta: EncodedVideoChunkMetadata | undefined): void {
    const data = new Uint8Array(chunk.byteLength);
    chunk.copyTo(data);
    const packet = new EncodedPacket(data, chunk.type === 'key' ? 'key' : 'delta', chunk.timestamp / 1e6, 1 / this.options.fps);
    // The encoder labels its config with the RGBA input's colour space; the stream itself is BT.601 limited YUV.
    const fixed = meta?.decoderConfig ? { ...meta, decoderConfig: { ...meta.decoderConfig, colorSpace: VIDEO_COLOR_SPACE } } : meta;
    this.enqueue(() => this.videoSource.add(packet, fixed as Parameters<EncodedVideoPacketSource['add']>[1]));
  }

  private onAudio(chunk: EncodedAudioChunk, meta: EncodedAudioChunkMetadata | undefined): void {
    const data = new Uint8Array(chunk.byteLength);
    chunk.copyTo(data);
    const durationUs = chunk.duration ?? 0;
    // The Opus encoder stamps the flushed last packet with its input time, inside the previous packet: keep time increasing.
    const timestampUs = Math.max(chunk.timestamp, this.audioEndUs);
    this.audioEndUs = timestampUs + durationUs;
    const packet = new EncodedPacket(data, 'key', timestampUs / 1e6, durationUs / 1e6);
    this.enqueue(() => this.audioSource.add(packet, meta as Parameters<EncodedAudioPacketSource['add']>[1]));
  }

  private enqueue(task: () => Promise<void>): void {
    this.chain = this.chain
      .then(() => this.started)
      .then(task)
      .catch((err: unknown) => this.fail(err instanceof Error ? err : new Error(String(err))));
  }

  private fail(err: Error): void {
    this.error ??= err;
  }

  private throwIfFailed(): void {
    if (this.error) throw new Error(`encoding failed: ${this.error.message} [format:${this.options.format}]`);
  }
}
