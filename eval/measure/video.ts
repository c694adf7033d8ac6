/** ffmpeg helpers for the evaluation: probe a video, stream its frames as raw RGBA, extract its audio. */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Coded size and duration of the first video stream. */
export async function probeVideo(path: string): Promise<{ width: number; height: number; durationS: number }> {
  const { stdout } = await run('ffprobe', [
    '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height:format=duration', '-of', 'json', path,
  ]);
  const info = JSON.parse(stdout) as { streams?: { width?: number; height?: number }[]; format?: { duration?: string } };
  const s = info.streams?.[0];
  if (!s?.width || !s.height) throw new Error(`no video stream in ${path}`);
  return { width: s.width, height: s.height, durationS: Number(info.format?.duration ?? Number.NaN) };
}

/** Decode `path` at `fps` (`-vf fps=N`) into RGBA frames of width x height, in order. */
export async function* readRawFrames(path: string, width: number, height: number, fps = 25, maxFrames = Infinity): AsyncGenerator<{ width: number; height: number; data: Uint8Array }> {
  const args = ['-v', 'error', '-nostdin', '-i', path, '-vf', `fps=${fps}`, '-an', '-f', 'rawvideo', '-pix_fmt', 'rgba'];
  if (Number.isFinite(maxFrames)) args.push('-frames:v', String(maxFrames));
  args.push('-');
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const size = width * height * 4;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let count = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      while (pendingBytes >= size) {
        const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
        const frame = new Uint8Array(size);
        frame.set(all.subarray(0, size));
        const rest = all.subarray(size);
        pending = rest.length > 0 ? [rest] : [];
        pendingBytes = rest.length;
        if (count++ < maxFrames) yield { width, height, data: frame };
      }
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  const code = await exited;
  if (code !== 0 && count < maxFrames) throw new Error(`ffmpeg failed decoding ${path} (exit ${code}): ${stderr.trim().slice(-500)}`);
}

/** Decode the first frame of a video as RGBA. */
export async function firstFrame(path: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  const { width, height } = await probeVideo(path);
  for await (const f of readRawFrames(path, width, height, 25, 1)) return f;
  throw new Error(`no frame in ${path}`);
}

/** Write the clip's audio as 16 kHz mono PCM16 WAV. */
export async function extractAudioWav(path: string, outPath: string): Promise<void> {
  await run('ffmpeg', ['-v', 'error', '-nostdin', '-y', '-i', path, '-vn', '-ac', '1', '-ar', '16000', '-c:a', 'pcm_s16le', '-f', 'wav', outPath]);
}
