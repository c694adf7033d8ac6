import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EncodedVideoChunk, VideoDecoder, type VideoDecoderConfig, type VideoFrame } from '@napi-rs/webcodecs';
import { ALL_FORMATS, BufferSource, EncodedPacketSink, Input, type InputVideoTrack } from 'mediabunny';

const ROOT = new URL('../..', import.meta.url).pathname;
const JFK = join(ROOT, 'assets/speech/jfk.wav');

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'render-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Run the CLI; resolves with its exit code and stderr (never rejects on a non-zero exit). */
function render(args: string[], timeoutMs = 120_000): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'tools/render.ts', ...args], { cwd: ROOT, timeout: timeoutMs }, (err, _stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stderr });
    });
  });
}

/** Decode one key packet with WebCodecs; returns the frame's size and its luma plane. */
async function decodeFirst(track: InputVideoTrack): Promise<{ width: number; height: number; luma: Uint8Array }> {
  const config = await track.getDecoderConfig();
  assert.ok(config, 'video track has a decoder config');
  const packet = await new EncodedPacketSink(track).getFirstPacket();
  assert.ok(packet, 'video track has a first packet');
  assert.equal(packet.type, 'key');
  const frames: VideoFrame[] = [];
  let error: Error | undefined;
  const decoder = new VideoDecoder({ output: (f) => frames.push(f), error: (e) => (error = e) });
  decoder.configure(config as VideoDecoderConfig);
  decoder.decode(new EncodedVideoChunk({ type: 'key', timestamp: 0, data: packet.data }));
  await decoder.flush();
  decoder.close();
  assert.equal(error, undefined);
  const frame = frames[0];
  assert.ok(frame, 'decoder returned a frame');
  const buf = new Uint8Array(frame.allocationSize());
  await frame.copyTo(buf);
  const out = { width: frame.codedWidth, height: frame.codedHeight, luma: buf.subarray(0, frame.codedWidth * frame.codedHeight) };
  for (const f of frames) f.close();
  return out;
}

test('render CLI turns 2 s of jfk.wav and the default portrait into an MP4 with 512x512 H.264 at 25 fps and 2 s of AAC', { timeout: 180_000 }, async () => {
  const out = join(dir, 'jfk.mp4');
  const { code, stderr } = await render(['--audio', JFK, '--duration', '2', '--out', out]);
  assert.equal(code, 0, stderr);
  assert.match(stderr, /100% 50\/50 frames/);

  const input = new Input({ source: new BufferSource(await readFile(out)), formats: ALL_FORMATS });
  assert.equal((await input.getFormat()).name, 'MP4');
  const video = await input.getPrimaryVideoTrack();
  assert.ok(video, 'has a video track');
  assert.equal(video.codec, 'avc');
  assert.equal(video.displayWidth, 512);
  assert.equal(video.displayHeight, 512);
  const stats = await video.computePacketStats();
  assert.ok(Math.abs(stats.packetCount - 50) <= 1, `video packets ${stats.packetCount}`);
  assert.ok(Math.abs(stats.averagePacketRate - 25) < 0.5, `frame rate ${stats.averagePacketRate}`);
  assert.ok(Math.abs((await video.computeDuration()) - 2) < 0.05);

  const audio = await input.getPrimaryAudioTrack();
  assert.ok(audio, 'has an audio track');
  assert.equal(audio.codec, 'aac');
  assert.equal(audio.numberOfChannels, 1);
  assert.equal(audio.sampleRate, 48000);
  const audioS = await audio.computeDuration();
  assert.ok(Math.abs(audioS - 2) < 0.1, `audio ${audioS} s`);

  const first = await decodeFirst(video);
  assert.equal(first.width, 512);
  assert.equal(first.height, 512);
  let sum = 0, sq = 0;
  for (const y of first.luma) { sum += y; sq += y * y; }
  const mean = sum / first.luma.length;
  const sd = Math.sqrt(sq / first.luma.length - mean * mean);
  assert.ok(mean > 40 && mean < 220 && sd > 20, `first frame looks like a picture [mean:${mean.toFixed(1)}, sd:${sd.toFixed(1)}]`);
});

test('render CLI writes WebM with VP8 and Opus for a .webm output', { timeout: 180_000 }, async () => {
  const out = join(dir, 'jfk.webm');
  const { code, stderr } = await render(['--audio', JFK, '--duration', '1', '--out', out, '--quiet']);
  assert.equal(code, 0, stderr);
  const input = new Input({ source: new BufferSource(await readFile(out)), formats: ALL_FORMATS });
  const video = await input.getPrimaryVideoTrack();
  const audio = await input.getPrimaryAudioTrack();
  assert.equal(video?.codec, 'vp8');
  assert.equal(audio?.codec, 'opus');
  assert.ok(Math.abs((await video.computePacketStats()).packetCount - 25) <= 1);
  const first = await decodeFirst(video);
  assert.equal(first.width, 512);
});

test('render CLI exits 3 with a clear message for a missing audio file', { timeout: 60_000 }, async () => {
  const { code, stderr } = await render(['--audio', join(dir, 'missing.wav'), '--out', join(dir, 'x.mp4'), '--quiet']);
  assert.equal(code, 3);
  assert.match(stderr, /audio file not found/);
});

test('render CLI exits 3 when the audio is not a WAV', { timeout: 60_000 }, async () => {
  const fake = join(dir, 'fake.wav');
  await writeFile(fake, 'this is not audio');
  const { code, stderr } = await render(['--audio', fake, '--out', join(dir, 'x.mp4'), '--quiet']);
  assert.equal(code, 3);
  assert.match(stderr, /not a WAV/);
});

test('render CLI exits 3 when the portrait has no face', { timeout: 120_000 }, async () => {
  const sharp = (await import('sharp')).default;
  const grey = join(dir, 'grey.png');
  await sharp({ create: { width: 256, height: 256, channels: 3, background: '#808080' } }).png().toFile(grey);
  const { code, stderr } = await render(['--audio', JFK, '--portrait', grey, '--out', join(dir, 'x.mp4'), '--quiet']);
  assert.equal(code, 3);
  assert.match(stderr, /no_face/);
});

test('render CLI exits 2 with usage for a missing --out or an unknown container', { timeout: 60_000 }, async () => {
  const noOut = await render(['--audio', JFK]);
  assert.equal(noOut.code, 2);
  assert.match(noOut.stderr, /--out is required[\s\S]*usage:/);
  const avi = await render(['--audio', JFK, '--out', join(dir, 'x.avi'), '--quiet']);
  assert.equal(avi.code, 3);
  assert.match(avi.stderr, /\.mp4 or \.webm/);
});
