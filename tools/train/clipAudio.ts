/** A talking clip's audio as the motion stage takes it: 16 kHz mono float32, decoded by ffmpeg. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The audio of `path`, played `speed` times faster (pitch and tempo together; 1 = as recorded). */
export async function decodeClipAudio(path: string, speed = 1): Promise<Float32Array> {
  const filter = speed === 1 ? [] : ['-af', `aresample=16000,asetrate=${16000 * speed},aresample=16000`];
  const { stdout } = await run('ffmpeg', ['-loglevel', 'error', '-i', path, '-vn', '-ac', '1', '-ar', '16000', ...filter, '-f', 'f32le', '-'], { encoding: 'buffer', maxBuffer: 1 << 30 });
  const buf = stdout as Buffer;
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}
