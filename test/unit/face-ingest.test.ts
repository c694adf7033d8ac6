import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import sharp from 'sharp';
import { FaceLandmarker } from '../../engines/face/FaceLandmarker.ts';
import { ingestReference, type IngestOptions } from '../../engines/face/ingestReference.ts';
import { ReferenceCache, isReferenceId } from '../../engines/face/ReferenceCache.ts';
import { ReferenceRejectedError } from '../../engines/face/ReferenceRejectedError.ts';

const PORTRAIT = new URL('../../assets/portraits/astronaut.png', import.meta.url);
const TIMEOUT = 60_000;
const landmarker = new FaceLandmarker();
const options: IngestOptions = { width: 512, height: 512, maxBytes: 5_000_000, maxPixels: 40_000_000, landmarker };
after(() => landmarker.close());

const y = (lm: Float32Array, id: number) => lm[2 * id + 1]!;
const x = (lm: Float32Array, id: number) => lm[2 * id]!;

async function rejectionCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ReferenceRejectedError, `expected ReferenceRejectedError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('expected a rejection');
}

describe('ingestReference', { timeout: TIMEOUT }, () => {
  test('the astronaut portrait becomes a 512x512 frame with 468 plausible landmarks', async () => {
    const bytes = new Uint8Array(await readFile(PORTRAIT));
    const ref = await ingestReference(bytes, options);
    assert.match(ref.id, /^[0-9a-f]{64}$/);
    assert.equal(ref.image.width, 512);
    assert.equal(ref.image.data.length, 512 * 512 * 4);
    assert.equal(ref.landmarks.length, 936);
    let minY = Infinity, maxY = -Infinity;
    for (let i = 0; i < 468; i++) {
      assert.ok(x(ref.landmarks, i) > 0 && x(ref.landmarks, i) < 512, `landmark ${i} x inside`);
      minY = Math.min(minY, y(ref.landmarks, i));
      maxY = Math.max(maxY, y(ref.landmarks, i));
    }
    // Framing: forehead-top to chin is ~46% of the frame, so hair and shoulders stay in.
    const faceFrac = (y(ref.landmarks, 152) - y(ref.landmarks, 10)) / 512;
    assert.ok(faceFrac > 0.38 && faceFrac < 0.55, `face fraction ${faceFrac}`);
    // The landmarks of the re-detected face lie inside its box (small margin for the mesh outline).
    const faces = await landmarker.detect(ref.image);
    assert.equal(faces.length, 1);
    const { box } = faces[0]!;
    const m = 0.1 * box.width;
    for (let i = 0; i < 468; i++) {
      assert.ok(x(ref.landmarks, i) >= box.x - m && x(ref.landmarks, i) <= box.x + box.width + m, `landmark ${i} in box x`);
      assert.ok(y(ref.landmarks, i) >= box.y - m && y(ref.landmarks, i) <= box.y + box.height + m, `landmark ${i} in box y`);
    }
    // Anatomy: eyes above nose tip above inner lips above chin; image-left eye corner 33 left of 263.
    const eyeY = (y(ref.landmarks, 159) + y(ref.landmarks, 386)) / 2;
    assert.ok(eyeY < y(ref.landmarks, 4), 'eyes above nose');
    assert.ok(y(ref.landmarks, 4) < y(ref.landmarks, 13), 'nose above mouth');
    assert.ok(y(ref.landmarks, 13) <= y(ref.landmarks, 14), 'upper inner lip above lower');
    assert.ok(y(ref.landmarks, 14) < y(ref.landmarks, 152), 'mouth above chin');
    assert.ok(x(ref.landmarks, 33) < x(ref.landmarks, 263), 'eye corners in image order');
    // Eye line levelled by the alignment.
    assert.ok(Math.abs(y(ref.landmarks, 33) - y(ref.landmarks, 263)) < 6, 'eye line level');
  });

  test('a blank image is rejected with no_face', async () => {
    const blank = await sharp({ create: { width: 256, height: 256, channels: 3, background: { r: 200, g: 200, b: 200 } } }).png().toBuffer();
    assert.equal(await rejectionCode(ingestReference(new Uint8Array(blank), options)), 'no_face');
  });

  test('a text file is rejected with not_an_image', async () => {
    const text = new TextEncoder().encode('this is not an image, just some text\n');
    assert.equal(await rejectionCode(ingestReference(text, options)), 'not_an_image');
  });

  test('bytes over maxBytes are rejected with too_large before decoding', async () => {
    const bytes = new Uint8Array(await readFile(PORTRAIT));
    assert.equal(await rejectionCode(ingestReference(bytes, { ...options, maxBytes: 1000 })), 'too_large');
  });

  test('an image over maxPixels is rejected with too_large', async () => {
    const bytes = new Uint8Array(await readFile(PORTRAIT));
    assert.equal(await rejectionCode(ingestReference(bytes, { ...options, maxPixels: 100 * 100 })), 'too_large');
  });

  test('a face that is small in a large frame is rejected with face_too_small', async () => {
    // The portrait shrunk to 128 px in the corner of a 1400 px canvas: the face is ~3% of the short side.
    const small = await sharp(await readFile(PORTRAIT)).resize(160, 160).toBuffer();
    const canvas = await sharp({ create: { width: 1400, height: 1400, channels: 3, background: { r: 90, g: 90, b: 90 } } })
      .composite([{ input: small, left: 600, top: 600 }]).png().toBuffer();
    const code = await rejectionCode(ingestReference(new Uint8Array(canvas), options));
    assert.ok(code === 'face_too_small' || code === 'no_face', code);
  });
});

describe('ReferenceCache', { timeout: TIMEOUT }, () => {
  test('the same bytes twice run detection once, and a new cache on the same folder runs none', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'refcache-'));
    try {
      const bytes = new Uint8Array(await readFile(PORTRAIT));
      const cache = new ReferenceCache({ ...options, diskDir: dir, memoryEntries: 2 });
      const [a, b] = await Promise.all([cache.getOrIngest(bytes), cache.getOrIngest(bytes)]);
      const c = await cache.getOrIngest(bytes);
      assert.equal(cache.detectorRuns, 1);
      assert.equal(a, b);
      assert.equal(a, c);
      assert.equal(await cache.get(a.id), a);

      const restarted = new ReferenceCache({ ...options, diskDir: dir });
      const fromDisk = await restarted.get(a.id);
      assert.ok(fromDisk);
      assert.equal(restarted.detectorRuns, 0);
      assert.deepEqual(fromDisk.landmarks, a.landmarks);
      assert.deepEqual(fromDisk.image.data, a.image.data); // PNG is lossless
      await restarted.getOrIngest(bytes);
      assert.equal(restarted.detectorRuns, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a cache that refines the lips re-ingests entries stored without it, and refines what it ingests', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'refcache-'));
    try {
      const bytes = new Uint8Array(await readFile(PORTRAIT));
      const plain = await new ReferenceCache({ ...options, diskDir: dir }).getOrIngest(bytes);
      let refined = 0;
      // A stand-in refiner that lowers every landmark's y by 1 px: enough to tell refined landmarks apart.
      const lipRefiner = { refine: async (_image: unknown, lm: Float32Array) => (refined++, Float32Array.from(lm, (v, i) => (i % 2 ? v + 1 : v))) };
      const refining = new ReferenceCache({ ...options, diskDir: dir, lipRefiner });
      const again = await refining.getOrIngest(bytes);
      assert.equal(refining.detectorRuns, 1, 'stored without refined lips: ingested again');
      assert.equal(refined, 1);
      assert.equal(again.landmarks[1], plain.landmarks[1]! + 1);
      const restarted = new ReferenceCache({ ...options, diskDir: dir, lipRefiner });
      assert.equal((await restarted.getOrIngest(bytes)).landmarks[1], again.landmarks[1]);
      assert.equal(restarted.detectorRuns, 0, 'stored with refined lips: a hit');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('malformed ids are refused without touching the disk', async () => {
    const cache = new ReferenceCache({ ...options, diskDir: '/nonexistent' });
    assert.equal(isReferenceId('../../etc/passwd'), false);
    assert.equal(isReferenceId('A'.repeat(64)), false);
    assert.equal(isReferenceId('a'.repeat(64)), true);
    assert.equal(await cache.get('../../etc/passwd'), undefined);
    assert.equal(await cache.get('a'.repeat(64)), undefined);
  });

  test('a rejected image is not cached: each attempt runs detection again', async () => {
    const blank = await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toBuffer();
    const cache = new ReferenceCache({ ...options, landmarker: { detect: async () => [] } });
    await assert.rejects(cache.getOrIngest(new Uint8Array(blank)), ReferenceRejectedError);
    await assert.rejects(cache.getOrIngest(new Uint8Array(blank)), ReferenceRejectedError);
    assert.equal(cache.detectorRuns, 2);
    assert.equal(cache.size, 0);
  });
});
