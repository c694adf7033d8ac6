/**
 * The warp renderer on a corpus of portraits nobody tuned it on (photos, paintings, illustrations, a statue; closed,
 * open and smiling mouths; beards; small, off-centre and turned faces): each is ingested, rendered with the mouth
 * closed, half-open and wide-open from explicit rig coefficients, and judged by an independent landmarker
 * (MediaPipe FaceLandmarker in Chromium, eval/measure). Needs ../shared/media/real/portraits, the MediaPipe model
 * in ../shared/models and /usr/bin/chromium.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { FaceLandmarker } from '../../engines/face/FaceLandmarker.ts';
import { ingestReference } from '../../engines/face/ingestReference.ts';
import { FaceRig } from '../../engines/motion/FaceRig.ts';
import { InnerLipRefiner, moveInnerLips } from '../../engines/face/InnerLipRefiner.ts';
import { frameY, type MouthFrame } from '../../engines/face/innerLipPatch.ts';
import { MouthCalibration } from '../../engines/motion/MouthCalibration.ts';
import { NUM_RIG_COEFFS } from '../../engines/motion/rigBases.ts';
import { renderRigPose, rigCoefficients, type RigPose } from '../../tools/render/renderRigPose.ts';
import { WarpRenderer } from '../../engines/render/WarpRenderer.ts';
import type { ReferencePortrait, RgbaImage } from '../../engines/types.ts';
import { DEFAULT_MODEL_PATH, FaceMeasurer, type FaceMeasurement } from '../../eval/measure/FaceMeasurer.ts';
import { LIPS_OUTER, paintOutsideLips } from '../../eval/real/paintOutsideLips.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CORPUS = join(ROOT, '../shared/media/real/portraits');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SIZE = 512;
/** Commanded mouth poses (rig coefficients in natural ranges; FaceRig applies the per-portrait gains). */
const POSES = {
  closed: {},
  half: { jawOpen: 0.5 },
  wide: { jawOpen: 1, upperLipRaise: 0.3 },
} as const satisfies Record<string, RigPose>;
type Pose = keyof typeof POSES;
const POSE_NAMES = Object.keys(POSES) as Pose[];
/** Measured opening at rest (closed pose) must be below this on every portrait (the eval counts < 0.03 as closed). */
const MAX_REST_OPENING = 0.04;
/** Measured opening (inner-lip gap / mouth width) must grow by at least this from closed to half and half to wide. */
const OPENING_STEP = 0.05;
/** Away from the mouth and eyes: mean absolute difference to the portrait (0-255) and share of pixels off by > 16. */
const MAX_MEAN_DIFF = 1;
const MAX_CHANGED_SHARE = 0.005;
/** A slight parting, as real speakers show between open vowels (inner-lip gap / mouth width, through MouthCalibration). */
const SLIGHT = 0.06;

interface Case {
  name: string;
  reference: ReferencePortrait;
  frames: Record<Pose, RgbaImage>;
  slight: RgbaImage;
  portrait: FaceMeasurement;
  measured: Record<Pose, FaceMeasurement>;
  measuredSlight: FaceMeasurement;
  /** The inner lips' y (13, 14) in the mouth frame of the detector's landmarks: the detector's, the refiner's. */
  lips: { frame: MouthFrame; detected: [number, number]; refined: [number, number] };
}

const missing = [CORPUS, DEFAULT_MODEL_PATH, CHROMIUM].filter((p) => !existsSync(p));
const files = missing.length > 0 ? [] : [
  ...readdirSync(CORPUS).filter((f) => /\.(png|jpe?g|webp)$/i.test(f)).sort().map((f) => join(CORPUS, f)),
  join(ROOT, 'assets/portraits/astronaut.png'),
];
const cases: Case[] = [];
let tilted: RgbaImage | undefined;

function renderPoses(reference: ReferencePortrait, renderer: WarpRenderer): { frames: Record<Pose, RgbaImage>; slight: RgbaImage } {
  const rig = new FaceRig(reference.landmarks);
  const frames = {} as Record<Pose, RgbaImage>;
  for (const pose of POSE_NAMES) frames[pose] = renderRigPose(renderer, reference, rig, rigCoefficients(POSES[pose]));
  const c = new MouthCalibration(rig).coefficients(SLIGHT, 0, new Float32Array(NUM_RIG_COEFFS));
  return { frames, slight: renderRigPose(renderer, reference, rig, c) };
}

describe('warp renderer on a corpus of portraits', { skip: missing.length > 0 ? `missing ${missing.join(', ')}` : false }, () => {
  before(async () => {
    const landmarker = new FaceLandmarker();
    const renderer = new WarpRenderer();
    const measurer = await FaceMeasurer.open();
    const refiner = await InnerLipRefiner.create();
    try {
      const ingest = (bytes: Uint8Array) => ingestReference(bytes, { width: SIZE, height: SIZE, maxBytes: 20 << 20, maxPixels: 4e7, landmarker });
      const rendered: Omit<Case, 'portrait' | 'measured' | 'measuredSlight'>[] = [];
      for (const file of files) {
        // As the server ingests: the detector's landmarks with the inner lips refined.
        const detected = await ingest(new Uint8Array(await readFile(file)));
        const lips = await refiner.read(detected.image, detected.landmarks);
        const reference = { ...detected, landmarks: moveInnerLips(detected.landmarks, lips.frame, lips.detected, lips.refined) };
        await renderer.prepare(reference);
        rendered.push({ name: basename(file).replace(/\.[^.]+$/, ''), reference, lips, ...renderPoses(reference, renderer) });
        renderer.release(reference.id);
      }
      const images = rendered.flatMap((c) => [c.reference.image, ...POSE_NAMES.map((p) => c.frames[p]), c.slight]);
      const m = await measurer.measure(images);
      rendered.forEach((c, i) => {
        const k = i * (2 + POSE_NAMES.length);
        const measured = Object.fromEntries(POSE_NAMES.map((p, j) => [p, m[k + 1 + j]!])) as Record<Pose, FaceMeasurement>;
        cases.push({ ...c, portrait: m[k]!, measured, measuredSlight: m[k + 1 + POSE_NAMES.length]! });
      });
      // A portrait with its head tilted 25 degrees, cropped so that its corners are all picture.
      const { data, info } = await sharp(join(ROOT, 'assets/portraits/astronaut.png')).rotate(25, { background: '#000' }).toBuffer({ resolveWithObject: true });
      const side = Math.round(Math.min(info.width, info.height) * 0.6);
      const bytes = await sharp(data).extract({ left: Math.round((info.width - side) / 2), top: Math.round((info.height - side) / 2), width: side, height: side }).png().toBuffer();
      tilted = (await ingest(new Uint8Array(bytes))).image;
    } finally {
      await Promise.all([landmarker.close(), measurer.close(), renderer.dispose(), refiner.dispose()]);
    }
    for (const c of cases) {
      console.log(`${c.name.padEnd(24)} opening portrait ${c.portrait.opening.toFixed(3)} ${POSE_NAMES.map((p) => `${p} ${c.measured[p].opening.toFixed(3)}`).join(' ')} slight ${c.measuredSlight.opening.toFixed(3)}`);
    }
  }, { timeout: 300_000 });

  test('the independent landmarker finds the face in every portrait and every rendered frame', () => {
    const lost = cases.flatMap((c) => [['portrait', c.portrait] as const, ...POSE_NAMES.map((p) => [p, c.measured[p]] as const)].filter(([, m]) => !m.found).map(([p]) => `${c.name} ${p}`));
    assert.equal(cases.length, files.length);
    assert.deepEqual(lost, []);
  });

  test('the measured mouth opening grows from closed to half-open to wide-open on every portrait', () => {
    const flat = cases.filter((c) => !(c.measured.half.opening > c.measured.closed.opening + OPENING_STEP && c.measured.wide.opening > c.measured.half.opening + OPENING_STEP));
    assert.deepEqual(flat.map((c) => `${c.name}: ${POSE_NAMES.map((p) => c.measured[p].opening.toFixed(3)).join(' < ')}`), []);
  });

  test('lips that meet in the portrait part visibly at a slight opening on most portraits', () => {
    // The synthetic interior used to wait until the lips were further apart than the detector's reading of the
    // portrait's gap (on closed lips that is lip and seam), and a curved (smiling) mouth's gap was shaded as lip: at
    // this command 4 of 11 closed-lip portraits measured more than half of it, median growth 0.014. Under a moustache,
    // on the statue and on the painting the landmarker reads little of what is drawn. Lips read as up to 0.07 of the
    // mouth width apart now count as closed (liveportrait_s0 measured 0.013 here while it counted as open; 0.102 now).
    const closedLips = cases.filter((c) => c.portrait.opening < 0.05);
    assert.ok(closedLips.length >= 8, `portraits with closed lips: ${closedLips.length}`);
    const growth = closedLips.map((c) => c.measuredSlight.opening - c.measured.closed.opening).sort((a, b) => a - b);
    const parted = growth.filter((g) => g > SLIGHT / 2).length;
    const median = growth[Math.floor(growth.length / 2)]!;
    const detail = closedLips.map((c) => `${c.name} ${c.measured.closed.opening.toFixed(3)} -> ${c.measuredSlight.opening.toFixed(3)}`).join(', ');
    assert.ok(parted >= 0.6 * closedLips.length, `parted on ${parted} of ${closedLips.length}: ${detail}`);
    assert.ok(median > SLIGHT / 2, `median growth ${median.toFixed(3)}: ${detail}`);
  });

  test('the refined inner lips read the portraits\' lip gap closer to the independent landmarker than the detector does', () => {
    // Trained on real talking video only (tools/train/train_inner_lips.py); these portraits include paintings, a
    // statue and illustrations it never saw.
    const rows = cases.map((c) => {
      const mp = c.portrait.landmarks;
      const truth = frameY(c.lips.frame, mp, 14, 3) - frameY(c.lips.frame, mp, 13, 3);
      return { name: c.name, truth, detected: c.lips.detected[1] - c.lips.detected[0], refined: c.lips.refined[1] - c.lips.refined[0] };
    });
    const rms = (k: 'detected' | 'refined'): number => Math.sqrt(rows.reduce((s, r) => s + (r[k] - r.truth) ** 2, 0) / rows.length);
    const detail = rows.map((r) => `${r.name} ${r.truth.toFixed(3)}: ${r.detected.toFixed(3)} -> ${r.refined.toFixed(3)}`).join(', ');
    console.log(`lip gap vs MediaPipe, rms: detector ${rms('detected').toFixed(4)}, refined ${rms('refined').toFixed(4)}; ${detail}`);
    assert.ok(rms('refined') < rms('detected'), detail);
  });

  test('the mouth closes at rest on every portrait, open-mouth ones included', () => {
    // A portrait caught mid-word (an open jaw) used to stay open at rest (vexpress_aoc_ref measured 0.47 before its jaw
    // was raised at rest, then 0.053 while four upper-lip vertices near the corners still rose with the jaw: 0.022 now).
    const open = cases.filter((c) => !(c.measured.closed.opening < MAX_REST_OPENING));
    assert.deepEqual(open.map((c) => `${c.name}: portrait ${c.portrait.opening.toFixed(3)}, closed ${c.measured.closed.opening.toFixed(3)}`), []);
  });

  test('no dark mouth-interior paint appears outside the lips', () => {
    // eval/real's region (the lower face outside the lips dilated, from each image's own MediaPipe landmarks) and
    // its mouth-interior pixels (near black or deep red: a moustache, a beard, hair at the jaw line or a lip shadow
    // that the animation moves is grey, brown or lighter) against the portrait's own count.
    const painted = cases.flatMap((c) => {
      const base = interiorDark(c.reference.image, c.portrait).count;
      return POSE_NAMES.flatMap((p) => {
        const { count, threshold } = interiorDark(c.frames[p], c.measured[p]);
        return count - base > threshold ? [`${c.name} ${p}: ${count - base} more deep-red dark px outside the lips (threshold ${threshold.toFixed(0)})`] : [];
      });
    });
    assert.deepEqual(painted, []);
  });

  test('pixels away from the mouth, jaw and eyes stay as in the portrait', () => {
    const changed: string[] = [];
    for (const c of cases) {
      const mask = stillRegion(c.portrait.landmarks);
      for (const p of POSE_NAMES) {
        const { mean, share } = difference(c.reference.image, c.frames[p], mask);
        if (mean > MAX_MEAN_DIFF || share > MAX_CHANGED_SHARE) changed.push(`${c.name} ${p}: mean ${mean.toFixed(2)}, ${(share * 100).toFixed(2)} % changed`);
      }
    }
    assert.deepEqual(changed, []);
  });

  test('a tilted portrait is levelled without black corners', () => {
    assert.ok(tilted);
    const dark: string[] = [];
    for (const [x0, y0] of [[0, 0], [SIZE - 32, 0], [0, SIZE - 32], [SIZE - 32, SIZE - 32]] as const) {
      let black = 0;
      for (let y = y0; y < y0 + 32; y++) {
        for (let x = x0; x < x0 + 32; x++) {
          const o = 4 * (y * SIZE + x), d = tilted.data;
          if (Math.max(d[o]!, d[o + 1]!, d[o + 2]!) < 24) black++;
        }
      }
      if (black > 0) dark.push(`corner ${x0},${y0}: ${black} black px`);
    }
    assert.deepEqual(dark, []);
  });
});

after(() => undefined);

/**
 * Pixels that no commanded pose may change: above the bottom of the nose (the mouth, jaw and cheeks below it move),
 * outside the eyes (dilated), from MediaPipe landmarks of the portrait.
 */
function stillRegion(lm: Float32Array): Uint8Array {
  const mask = new Uint8Array(SIZE * SIZE);
  const p = (i: number): [number, number] => [lm[3 * i]!, lm[3 * i + 1]!];
  const [, noseY] = p(2), [, browY] = p(10), [, chinY] = p(152);
  const face = chinY - browY;
  const limitY = noseY - 0.06 * face;
  const eyes = [[33, 133, 159, 145], [362, 263, 386, 374]].map((ids) => {
    const pts = ids.map(p);
    const cx = pts.reduce((s, q) => s + q[0], 0) / 4, cy = pts.reduce((s, q) => s + q[1], 0) / 4;
    return [cx, cy, Math.hypot(pts[0]![0] - pts[1]![0], pts[0]![1] - pts[1]![1])] as const;
  });
  const lips = LIPS_OUTER.map(p);
  const mouthY = Math.min(...lips.map((q) => q[1]));
  for (let y = 0; y < Math.min(SIZE, limitY, mouthY); y++) {
    for (let x = 0; x < SIZE; x++) {
      if (eyes.some(([cx, cy, w]) => Math.hypot(x + 0.5 - cx, y + 0.5 - cy) < 1.2 * w)) continue;
      mask[y * SIZE + x] = 1;
    }
  }
  return mask;
}

/** eval/real's paint outside the lips: pixels coloured as a mouth interior (near black, deep red) outside the lips. */
function interiorDark(image: RgbaImage, m: FaceMeasurement): { count: number; threshold: number } {
  const r = paintOutsideLips(image, m);
  return { count: r.interior, threshold: r.threshold };
}

function difference(a: RgbaImage, b: RgbaImage, mask: Uint8Array): { mean: number; share: number } {
  let sum = 0, n = 0, off = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    let d = 0;
    for (let c = 0; c < 3; c++) d = Math.max(d, Math.abs(a.data[4 * i + c]! - b.data[4 * i + c]!));
    sum += d; n++;
    if (d > 16) off++;
  }
  return { mean: n > 0 ? sum / n : 0, share: n > 0 ? off / n : 0 };
}
