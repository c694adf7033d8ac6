/**
 * Decodes received H.264 / VP8 frames with an ffmpeg child process (Debian's `ffmpeg`) and hands out their luma
 * planes, each tagged with the RTP timestamp and arrival of the frame it came from.
 *
 * Why not @napi-rs/webcodecs here: fed live, frame by frame as packets arrive, its H.264 decoder now and then
 * outputs pictures that differ from the stream (a region stays as it was until the next keyframe) while ffmpeg
 * decodes the very same bytes correctly; a measuring instrument must not invent a frozen mouth. ffmpeg runs
 * single-threaded with a minimal probe, reading IVF whose timestamp is each frame's index; its `showinfo` filter reports
 * that index for every picture, so a frame ffmpeg drops never shifts the others' labels.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { DecodedLuma, DecoderCodec } from './videoLumaDecoder.ts';
import type { EncodedVideoFrame } from './rtpVideoFrames.ts';

const PGM_HEADER = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/;
const SHOWINFO = /\bn:\s*\d+\s+pts:\s*(-?\d+)\s/;
/** How long flush() waits for pictures still on their way out of ffmpeg (its parser holds the newest frame). */
const FLUSH_TIMEOUT_MS = 1_500;

/** IVF file header: the smallest container that carries a timestamp per frame (time base 1/25: pts = frame index). */
function ivfFileHeader(codec: DecoderCodec): Buffer {
  const h = Buffer.alloc(32);
  h.write('DKIF', 0, 'ascii');
  h.writeUInt16LE(0, 4);
  h.writeUInt16LE(32, 6);
  h.write(codec === 'h264' ? 'H264' : 'VP80', 8, 'ascii');
  h.writeUInt16LE(512, 12);
  h.writeUInt16LE(512, 14);
  h.writeUInt32LE(25, 16);
  h.writeUInt32LE(1, 20);
  h.writeUInt32LE(0, 24);
  return h;
}

export class FfmpegLumaDecoder {
  readonly counters = { decoded: 0, output: 0, skippedBeforeKeyframe: 0, errors: 0 };
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly inputs = new Map<number, EncodedVideoFrame>();
  /** Input indices of pictures announced on stderr, waiting for their pixels on stdout. */
  private readonly announced: number[] = [];
  private readonly pictures: { width: number; height: number; luma: Uint8Array }[] = [];
  private lastOutIndex = -1;
  private stderrLine = '';
  private pending: Buffer = Buffer.alloc(0);
  private started = false;
  private frameCount = 0;
  private lastError: Error | null = null;
  private waiters: { upTo: number; resolve: () => void }[] = [];
  private closed = false;

  constructor(
    codec: DecoderCodec,
    private readonly onPicture: (picture: DecodedLuma) => void,
    ffmpegPath = 'ffmpeg',
  ) {
    this.child = spawn(
      ffmpegPath,
      ['-hide_banner', '-loglevel', 'info', '-probesize', '32', '-analyzeduration', '0', '-threads', '1', '-f', 'ivf', '-i', 'pipe:0', '-vf', 'showinfo', '-f', 'image2pipe', '-vcodec', 'pgm', '-pix_fmt', 'gray', '-fps_mode', 'passthrough', 'pipe:1'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child.on('error', (err) => this.fail(new Error(`ffmpeg could not start (apt-get install ffmpeg): ${err.message}`)));
    this.child.stdin.on('error', (err) => this.fail(err));
    this.child.stderr.on('data', (d: Buffer) => this.onStderr(d));
    this.child.stdout.on('data', (d: Buffer) => this.onData(d));
    this.child.stdin.write(ivfFileHeader(codec));
  }

  get error(): Error | null {
    return this.lastError;
  }

  /** Queues one frame; frames before the first keyframe are skipped (returns false for those). */
  decode(frame: EncodedVideoFrame): boolean {
    if (this.closed) return false;
    if (!this.started && !frame.keyframe) {
      this.counters.skippedBeforeKeyframe++;
      return false;
    }
    this.started = true;
    this.inputs.set(this.frameCount, frame);
    this.counters.decoded++;
    const h = Buffer.alloc(12);
    h.writeUInt32LE(frame.data.length, 0);
    h.writeBigUInt64LE(BigInt(this.frameCount), 4);
    this.child.stdin.write(h);
    this.frameCount++;
    this.child.stdin.write(frame.data);
    return true;
  }

  /** Resolves once every frame queued so far has come out (or after a timeout: ffmpeg's parser holds the newest). */
  async flush(): Promise<void> {
    const upTo = this.frameCount - 1;
    if (this.lastOutIndex >= upTo || this.closed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, FLUSH_TIMEOUT_MS);
      this.waiters.push({
        upTo,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.child.stdin.end();
    this.child.kill('SIGKILL');
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  private onStderr(chunk: Buffer): void {
    const lines = (this.stderrLine + chunk.toString('utf8')).split('\n');
    this.stderrLine = lines.pop() ?? '';
    for (const line of lines) {
      const info = SHOWINFO.exec(line);
      if (info) {
        this.announced.push(Number(info[1]));
        this.pair();
      } else if (/error|invalid|non-existing|missing/i.test(line)) {
        this.counters.errors++;
        this.lastError ??= new Error(`ffmpeg: ${line.trim().slice(0, 300)}`);
      }
    }
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      const header = PGM_HEADER.exec(this.pending.subarray(0, 32).toString('latin1'));
      if (!header) break;
      const width = Number(header[1]);
      const height = Number(header[2]);
      const start = header[0].length;
      if (this.pending.length < start + width * height) break;
      this.pictures.push({ width, height, luma: Uint8Array.from(this.pending.subarray(start, start + width * height)) });
      this.pending = this.pending.subarray(start + width * height);
    }
    this.pair();
  }

  /** Pictures (stdout) and their announcements (stderr) arrive on two pipes in the same order: pair them. */
  private pair(): void {
    while (this.announced.length > 0 && this.pictures.length > 0) {
      const index = this.announced.shift()!;
      const { width, height, luma } = this.pictures.shift()!;
      const input = this.inputs.get(index);
      for (const key of this.inputs.keys()) {
        if (key > index) break;
        this.inputs.delete(key);
      }
      this.counters.output++;
      this.lastOutIndex = Math.max(this.lastOutIndex, index);
      if (input) this.onPicture({ width, height, stride: width, luma, rtpTimestamp: input.rtpTimestamp, arrivalMs: input.arrivalMs, keyframe: input.keyframe });
    }
    this.waiters = this.waiters.filter((w) => {
      if (this.lastOutIndex < w.upTo) return true;
      w.resolve();
      return false;
    });
  }

  private fail(err: Error): void {
    this.counters.errors++;
    this.lastError ??= err;
    for (const w of this.waiters.splice(0)) w.resolve();
  }
}
