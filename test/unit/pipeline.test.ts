import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { AvatarPipeline } from '../../engines/pipeline.ts';
import { createRenderEngine } from '../../engines/render/createRenderEngine.ts';
import { LANDMARK_COLOURS } from '../../engines/render/neural/LandmarkImage.ts';
import { type MotionFrame, type ReferencePortrait, type RgbaImage } from '../../engines/types.ts';
import { decodeWav } from '../../server/media/wav.ts';
import { canonicalLandmarks } from '../helpers/canonicalFace.ts';

const SIZE = 256;

/** A flat grey portrait whose landmarks are the canonical face, front view, 12 px per cm. */
function canonicalPortrait(): ReferencePortrait {
  const landmarks = canonicalLandmarks(12, SIZE / 2, SIZE / 2);
  const data = new Uint8Array(SIZE * SIZE * 4).fill(128);
  return { id: 'c'.repeat(64), image: { width: SIZE, height: SIZE, data }, landmarks };
}

const pixel = (img: RgbaImage, x: number, y: number) => [...img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 3)];

const engine = await createRenderEngine({ engine: 'warp', width: SIZE, height: SIZE });
after(() => engine.dispose());

async function speechFrames(pipeline: AvatarPipeline): Promise<MotionFrame[]> {
  const speech = decodeWav(readFileSync(new URL('../../assets/speech/jfk.wav', import.meta.url))).samples.subarray(0, 16000 * 2);
  return pipeline.pushAudio(speech.slice());
}

test('the pipeline turns speech into frames of the portrait, one per 40 ms of audio after the lookahead', async () => {
  const pipeline = await AvatarPipeline.create({ fps: 25, reference: canonicalPortrait(), engine, seed: 3 });
  const frames = await speechFrames(pipeline);
  // 2 s of audio: frame k is out once audio up to (k+1)*40 ms + lookahead has arrived.
  assert.equal(frames.length, Math.floor((2000 - pipeline.lookaheadMs) / 40));
  assert.deepEqual(frames.map((f) => f.index), frames.map((_, i) => i));
  const [img] = await pipeline.render(frames.slice(0, 1));
  assert.equal(img!.width, SIZE);
  assert.deepEqual(pixel(img!, 5, 5), [128, 128, 128], 'background kept from the portrait');
  await pipeline.dispose();
});

test('the landmarks debug view draws lines on black with the lips in their own colours, and switches back', async () => {
  const pipeline = await AvatarPipeline.create({ fps: 25, reference: canonicalPortrait(), engine, seed: 3 });
  const frames = await speechFrames(pipeline);
  pipeline.control({ type: 'view', mode: 'landmarks' });
  const [lm] = await pipeline.render(frames.slice(10, 11));
  const f = frames[10]!;
  assert.deepEqual(pixel(lm!, 5, 5), [0, 0, 0], 'black background');
  // Outer upper-lip centre (landmark 0) lies on the upper-lip line; lower-lip centre (17) on the lower one.
  const at = (i: number) => pixel(lm!, Math.floor(f.landmarks[2 * i]!), Math.floor(f.landmarks[2 * i + 1]!));
  assert.deepEqual(at(0), [...LANDMARK_COLOURS.upper_lip]);
  assert.deepEqual(at(17), [...LANDMARK_COLOURS.lower_lip]);
  pipeline.control({ type: 'view', mode: 'video' });
  const [video] = await pipeline.render(frames.slice(11, 12));
  assert.deepEqual(pixel(video!, 5, 5), [128, 128, 128]);
  await pipeline.dispose();
});
