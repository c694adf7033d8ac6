import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VideoEncoder, type VideoEncoderConfig } from '../../server/media/VideoEncoder.ts';
import { InvalidStateError } from '../../server/errors.ts';

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

test('H.264: keyframe first, then exactly every keyframeIntervalFrames, and on request (restarting the count)', async () => {
  const enc = new VideoEncoder(BASE);
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

test('H.264 output is Annex B; keyframes carry SPS (7), PPS (8) and an IDR slice (5), delta frames do not', async () => {
  const enc = new VideoEncoder(BASE);
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

test('VP8: the first frame and a requested frame are keyframes with the VP8 key frame bit clear', async () => {
  const enc = new VideoEncoder({ ...BASE, codec: 'vp8', keyframeIntervalFrames: 100 });
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

test('close() rejects frames still pending and later encode() calls with InvalidStateError', async () => {
  const enc = new VideoEncoder(BASE);
  const pending = enc.encode(frame(0), 0);
  enc.close();
  await assert.rejects(pending, InvalidStateError);
  await assert.rejects(enc.encode(frame(1), 40000), InvalidStateError);
  assert.equal(enc.closed, true);
});

test('bad config and wrong frame size fail with TypeErrors naming the field', async () => {
  assert.throws(() => new VideoEncoder({ ...BASE, codec: 'av1' as 'h264' }), /codec/);
  assert.throws(() => new VideoEncoder({ ...BASE, width: 127 }), /width/);
  assert.throws(() => new VideoEncoder({ ...BASE, keyframeIntervalFrames: 0 }), /keyframeIntervalFrames/);
  const enc = new VideoEncoder(BASE);
  await assert.rejects(enc.encode(new Uint8Array(10), 0), /rgba must be 128x96x4/);
  enc.close();
});
