// Offline render of a WAV + portrait through the session pipeline into MP4 (H.264 + AAC) or WebM (VP8 + Opus).
// `npm run render -- --audio in.wav [--portrait face.png] --out out.mp4 [--fps 25] [--size 512] [--duration S]`
// Exit codes: 0 written, 1 internal failure, 2 bad command line, 3 bad input (missing file, not a WAV, no face).
import { parseArgs } from 'node:util';
import { ProgressBar } from './render/ProgressBar.ts';
import { renderFile, RenderInputError } from './render/renderFile.ts';

const USAGE = `usage: npm run render -- (--audio IN.wav | --video DRIVER.mp4) --out OUT.mp4|OUT.webm [options]
  --audio PATH       speech, WAV (8/16/24/32-bit PCM or float, any rate, channels are mixed down)
  --video PATH       driving video (reenactment): its face drives head, eyes, brows and mouth (measured with MediaPipe in
                     Chromium: /usr/bin/chromium); its audio, if any, is muxed in (--audio replaces it)
  --portrait PATH    face image, PNG/JPEG/WebP (default assets/portraits/astronaut.png)
  --out PATH         .mp4 = H.264 + AAC, .webm = VP8 + Opus
  --fps N            frames per second, 10..60 (default 25)
  --size PX          output side, even, 64..2048 (default 512)
  --duration S       render only the first S seconds
  --seed N           seed of head motion and blinks (default 1)
  --bitrate KBPS     video bitrate (default 2000)
  --quiet            no progress on stderr`;

const DEFAULT_PORTRAIT = new URL('../assets/portraits/astronaut.png', import.meta.url).pathname;

function usageError(message: string): never {
  process.stderr.write(`render: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function num(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) usageError(`--${name} must be a number, got ${JSON.stringify(value)}`);
  return n;
}

let args;
try {
  args = parseArgs({
    options: {
      audio: { type: 'string' },
      video: { type: 'string' },
      portrait: { type: 'string', default: DEFAULT_PORTRAIT },
      out: { type: 'string' },
      fps: { type: 'string' },
      size: { type: 'string' },
      duration: { type: 'string' },
      seed: { type: 'string' },
      bitrate: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: false,
  }).values;
} catch (err) {
  usageError((err as Error).message);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!args.audio && !args.video) usageError('--audio or --video is required');
if (!args.out) usageError('--out is required');

const bar = args.quiet ? undefined : new ProgressBar(process.stderr);
try {
  const fps = num('fps', args.fps);
  const size = num('size', args.size);
  const maxSeconds = num('duration', args.duration);
  const seed = num('seed', args.seed);
  const videoBitrateKbps = num('bitrate', args.bitrate);
  const result = await renderFile({
    ...(args.audio ? { audioPath: args.audio } : {}),
    ...(args.video ? { videoPath: args.video } : {}),
    portraitPath: args.portrait!,
    outPath: args.out,
    ...(fps !== undefined ? { fps } : {}),
    ...(size !== undefined ? { size } : {}),
    ...(maxSeconds !== undefined ? { maxSeconds } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(videoBitrateKbps !== undefined ? { videoBitrateKbps } : {}),
    ...(bar ? { onProgress: (done: number, total: number) => bar.update(done, total), onStage: (s: string) => bar.log(`render: ${s}`) } : {}),
  });
  bar?.end();
  const msPerFrame = result.frames > 0 ? result.renderMs / result.frames : 0;
  process.stderr.write(
    `render: wrote ${result.outPath} (${result.format}, ${result.width}x${result.height}, ${result.frames} frames at ${result.fps} fps, ` +
      `${result.audioSeconds.toFixed(2)} s audio, ${(result.bytes / 1024).toFixed(0)} KiB, ${msPerFrame.toFixed(1)} ms/frame)\n`,
  );
  process.exit(0);
} catch (err) {
  bar?.end();
  if (err instanceof RenderInputError) {
    process.stderr.write(`render: ${err.message}\n`);
    process.exit(3);
  }
  process.stderr.write(`render: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}
