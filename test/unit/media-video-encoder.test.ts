import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { VideoEncoderConfig, VideoFrameEncoder } from '../../server/media/VideoEncoder.ts';
import { LibavVideoEncoder } from '../../server/media/LibavVideoEncoder.ts';
import { WebCodecsVideoEncoder } from '../../server/media/WebCodecsVideoEncoder.ts';
import { InvalidStateError } from '../../server/errors.ts';
import { h264StreamShape } from '../helpers/h264.ts';

const W = 128;
const H = 96;
const BASE: VideoEncoderConfig = { codec: 'h264', width: W, height: H, fps: 25, bitrateKbps: 500, keyframeIntervalFrames: 10 };

/** A moving gradient so delta frames are not empty. */
function frame(k: number): Uint8Array {
  const rgba = new Uint8Array(W * H * 4);
  for (let i = 0; i < W * H; i++) {
    rgba[i * 4] = (i + k * 3) & 255;
    rgba[i * 4 + 1] = ((i >> 7) + k) & 255;
    rgba[i * 4 + 3] = 255;
  }
  return rgba;
}

/** NAL unit types of an Annex B access unit, in order. */
function nalTypes(au: Uint8Array): number[] {
  const types: number[] = [];
  for (let i = 0; i + 3 < au.length; i++) {
    if (au[i] === 0 && au[i + 1] === 0 && au[i + 2] === 1) {
      types.push(au[i + 3]! & 0x1f);
      i += 3;
    }
  }
  return types;
}

const BACKENDS: [string, new (config: VideoEncoderConfig) => VideoFrameEncoder][] = [
  ['libav', LibavVideoEncoder],
  ['webcodecs', WebCodecsVideoEncoder],
];

for (const [backend, Encoder] of BACKENDS) {
  test(`${backend}: H.264: keyframe first, then exactly every keyframeIntervalFrames, and on request (restarting the count)`, async () => {
    const enc = new Encoder(BASE);
    const keys: number[] = [];
    for (let k = 0; k < 30; k++) {
      if (k === 13) enc.requestKeyframe();
      const out = await enc.encode(frame(k), k * 40000, k === 27);
      assert.equal(out.timestampUs, k * 40000);
      if (out.keyframe) keys.push(k);
    }
    assert.deepEqual(keys, [0, 10, 13, 23, 27]);
    const s = enc.toJSON();
    assert.deepEqual([s.frames, s.keyframes, s.keyframeRequests, s.dropped, s.errors], [30, 5, 1, 0, 0]);
    enc.close();
  });

  test(`${backend}: H.264 output is Annex B; keyframes carry SPS (7), PPS (8) and an IDR slice (5), delta frames do not`, async () => {
    const enc = new Encoder(BASE);
    const key = await enc.encode(frame(0), 0);
    const delta = await enc.encode(frame(1), 40000);
    assert.deepEqual(Array.from(key.data.subarray(0, 4)), [0, 0, 0, 1]);
    assert.equal(key.data[4]! & 0x1f, 7);
    const kt = nalTypes(key.data);
    assert.ok(kt.includes(7) && kt.includes(8) && kt.includes(5), `key NAL types ${kt}`);
    assert.equal(delta.keyframe, false);
    const dt = nalTypes(delta.data);
    assert.ok(!dt.includes(7) && !dt.includes(5) && dt.includes(1), `delta NAL types ${dt}`);
    assert.match(enc.h264ProfileLevelId ?? '', /^[0-9a-f]{6}$/);
    // Each frame owns its whole buffer, so a worker can transfer it.
    assert.equal(key.data.byteLength, key.data.buffer.byteLength);
    enc.close();
  });

  test(`${backend}: VP8: the first frame and a requested frame are keyframes with the VP8 key frame bit clear`, async () => {
    const enc = new Encoder({ ...BASE, codec: 'vp8', keyframeIntervalFrames: 100 });
    const out = [];
    for (let k = 0; k < 6; k++) {
      if (k === 4) enc.requestKeyframe();
      out.push(await enc.encode(frame(k), k * 40000));
    }
    assert.deepEqual(out.map((f) => f.keyframe), [true, false, false, false, true, false]);
    // VP8 frame tag: bit 0 of the first byte is 0 for a key frame, 1 for an inter frame (RFC 6386 §9.1).
    assert.deepEqual(out.map((f) => f.data[0]! & 1), [0, 1, 1, 1, 0, 1]);
    // Key frames carry the start code 9d 01 2a after the 3-byte tag.
    assert.deepEqual(Array.from(out[0]!.data.subarray(3, 6)), [0x9d, 0x01, 0x2a]);
    enc.close();
  });

  test(`${backend}: close() settles every encode, and later encode() calls reject with InvalidStateError`, async () => {
    const enc = new Encoder(BASE);
    const pending = enc.encode(frame(0), 0);
    enc.close();
    const [settled] = await Promise.allSettled([pending]);
    // webcodecs encodes off-thread, so close() aborts the frame; libav has encoded it before encode() returned.
    if (backend === 'webcodecs') assert.ok(settled.status === 'rejected' && settled.reason instanceof InvalidStateError);
    else assert.equal(settled.status, 'fulfilled');
    assert.equal(enc.pendingFrames, 0);
    await assert.rejects(enc.encode(frame(1), 40000), InvalidStateError);
    assert.equal(enc.closed, true);
  });

  test(`${backend}: bad config and wrong frame size fail with TypeErrors naming the field`, async () => {
    assert.throws(() => new Encoder({ ...BASE, codec: 'av1' as 'h264' }), /codec/);
    assert.throws(() => new Encoder({ ...BASE, width: 127 }), /width/);
    assert.throws(() => new Encoder({ ...BASE, keyframeIntervalFrames: 0 }), /keyframeIntervalFrames/);
    const enc = new Encoder(BASE);
    await assert.rejects(enc.encode(new Uint8Array(10), 0), /rgba must be 128x96x4/);
    enc.close();
  });
}

test('libav H.264 is Constrained Baseline: SPS profile_idc 66 with constraint_set1, PPS with CAVLC, SPS+PPS before every IDR', async () => {
  const enc = new LibavVideoEncoder({ ...BASE, keyframeIntervalFrames: 100 });
  const keyframes: Uint8Array[] = [];
  for (let k = 0; k < 8; k++) {
    if (k === 5) enc.requestKeyframe();
    const out = await enc.encode(frame(k), k * 40000);
    if (out.keyframe) keyframes.push(out.data);
  }
  enc.close();
  assert.equal(keyframes.length, 2);
  for (const au of keyframes) {
    const shape = h264StreamShape(au);
    assert.deepEqual(shape.nalTypes.filter((t) => t !== 6), [7, 8, 5]);
    assert.equal(shape.profileIdc, 66, 'Baseline profile_idc');
    assert.equal(shape.constraintSet1, true, 'constraint_set1: decodable by Main-profile decoders, i.e. Constrained Baseline');
    assert.equal(shape.cabac, false, 'entropy_coding_mode_flag 0: CAVLC');
  }
  assert.match(enc.h264ProfileLevelId ?? '', /^42[ce]0[0-9a-f]{2}$/);
});

test('libav VP8 and H.264 stay near the target bitrate on noisy frames', async () => {
  for (const codec of ['h264', 'vp8'] as const) {
    const enc = new LibavVideoEncoder({ codec, width: 256, height: 256, fps: 25, bitrateKbps: 400, keyframeIntervalFrames: 250 });
    const rgba = new Uint8Array(256 * 256 * 4);
    let bytes = 0;
    for (let k = 0; k < 100; k++) {
      for (let i = 0; i < rgba.length; i++) rgba[i] = (i * 7 + ((i >> 10) + k) * 31) & 255;
      bytes += (await enc.encode(rgba, k * 40000)).data.length;
    }
    enc.close();
    const kbps = (bytes * 8) / 4 / 1000;
    assert.ok(kbps > 100 && kbps < 800, `${codec}: ${kbps.toFixed(0)} kbit/s for a 400 kbit/s target`);
  }
});
