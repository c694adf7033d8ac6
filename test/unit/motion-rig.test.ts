import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CANONICAL_TRIANGLES, CANONICAL_VERTICES, LIP_CONTOURS, groupVertexIds } from '../../engines/motion/canonicalMesh.ts';
import { fitWeakPerspective, projectWeak } from '../../engines/motion/fitCamera.ts';
import { FaceRig, NEUTRAL_POSE, eulerToMatrix } from '../../engines/motion/FaceRig.ts';
import { EYELIDS, LOWER_LIP, NUM_RIG_COEFFS, RIG, RIG_BASES, UPPER_LIP } from '../../engines/motion/rigBases.ts';
import { mouthOpening } from '../../engines/motion/Audio2Landmarks.ts';

const V = CANONICAL_VERTICES;
const moved = (basis: Float32Array, i: number): number => Math.hypot(basis[3 * i]!, basis[3 * i + 1]!, basis[3 * i + 2]!);
const EYES = [...groupVertexIds('left_eye'), ...groupVertexIds('right_eye')];
const BROWS = [...groupVertexIds('left_eyebrow'), ...groupVertexIds('right_eyebrow')];
const FOREHEAD = [10, 151, 9, 108, 337, 67, 297];

/** Canonical points under u = tx + s (R X).x, v = ty - s (R X).y. */
function synthLandmarks(scale: number, pitch: number, yaw: number, roll: number, tx: number, ty: number): Float32Array {
  const cam = { scale, rotation: eulerToMatrix(pitch, yaw, roll), tx, ty };
  const out = new Float32Array(936);
  for (let i = 0; i < 468; i++) projectWeak(cam, V[3 * i]!, V[3 * i + 1]!, V[3 * i + 2]!, out, 2 * i);
  return out;
}

test('canonical mesh loads 468 vertices and 898 triangles from engines/motion/data', () => {
  assert.equal(V.length, 468 * 3);
  assert.equal(CANONICAL_TRIANGLES.length, 898 * 3);
  let front = 0;
  for (let i = 0; i < 468; i++) if (V[3 * i + 2]! > V[3 * front + 2]!) front = i;
  assert.equal(front, 4); // landmark 4 is the most forward vertex (z = 7.587)
  assert.ok(Math.abs(V[3 * 152 + 1]! + 9.403) < 1e-3); // chin
  assert.equal(LIP_CONTOURS.innerUpper[5], 13);
  assert.ok(UPPER_LIP.has(13) && UPPER_LIP.has(0) && LOWER_LIP.has(14) && LOWER_LIP.has(17));
});

test('the 2D fit recovers a known similarity transform (error < 0.5 px)', () => {
  const roll = 12;
  const ref = new Float32Array(936);
  const c = Math.cos((roll * Math.PI) / 180);
  const s = Math.sin((roll * Math.PI) / 180);
  for (let i = 0; i < 468; i++) {
    // Image-plane similarity of the frontal canonical face: scale 23.5 px/cm, rotation, translation.
    const x = V[3 * i]!;
    const y = -V[3 * i + 1]!;
    ref[2 * i] = 250 + 23.5 * (c * x + s * y);
    ref[2 * i + 1] = 260 + 23.5 * (-s * x + c * y);
  }
  const fit = fitWeakPerspective(ref);
  assert.ok(Math.abs(fit.scale - 23.5) < 0.01, `scale ${fit.scale}`);
  assert.ok(Math.abs(fit.tx - 250) < 0.1 && Math.abs(fit.ty - 260) < 0.1, `t ${fit.tx},${fit.ty}`);
  assert.ok(Math.abs((Math.atan2(fit.rotation[3]!, fit.rotation[0]!) * 180) / Math.PI - roll) < 0.05);
  const p = new Float32Array(2);
  for (let i = 0; i < 468; i++) {
    projectWeak(fit, V[3 * i]!, V[3 * i + 1]!, V[3 * i + 2]!, p, 0);
    assert.ok(Math.hypot(p[0]! - ref[2 * i]!, p[1]! - ref[2 * i + 1]!) < 0.5, `landmark ${i}`);
  }
});

test('the fit recovers a turned head (yaw and pitch) under weak perspective', () => {
  const ref = synthLandmarks(18, 8, -15, 3, 300, 240);
  const fit = fitWeakPerspective(ref);
  const want = eulerToMatrix(8, -15, 3);
  for (let k = 0; k < 9; k++) assert.ok(Math.abs(fit.rotation[k]! - want[k]!) < 1e-3, `R[${k}]`);
  assert.ok(fit.rmsErrorPx < 0.01);
});

test('jaw open moves the lower lip and chin down, not the upper lip, eyes, brows or forehead', () => {
  const jaw = RIG_BASES[RIG.jawOpen]!;
  for (const i of [14, 17, 152]) assert.ok(jaw[3 * i + 1]! < -1, `vertex ${i} dy ${jaw[3 * i + 1]}`);
  for (const i of [13, 0, 1, 4, ...EYES, ...BROWS, ...FOREHEAD]) assert.equal(moved(jaw, i), 0, `vertex ${i}`);
  for (let i = 0; i < 468; i++) if (V[3 * i + 1]! > -2) assert.equal(moved(jaw, i), 0, `vertex ${i} above the mouth moved`);
});

test('the upper lip\'s inner surface near the corners (183, 42 and mirrors) is upper lip and stays when the jaw moves', () => {
  // In the canonical projection these roll in under the inner contour; left out of UPPER_LIP they dropped with the
  // jaw like the lower lip and folded the lip corners into dark spikes on a wide-open portrait's closed rest.
  const jaw = RIG_BASES[RIG.jawOpen]!;
  for (const i of [183, 42, 407, 272]) {
    assert.ok(UPPER_LIP.has(i) && !LOWER_LIP.has(i), `vertex ${i}`);
    assert.equal(moved(jaw, i), 0, `vertex ${i} moved with the jaw`);
  }
  for (const i of [95, 88, 324, 318]) assert.ok(LOWER_LIP.has(i) && !UPPER_LIP.has(i), `vertex ${i}`);
});

test('blink moves only the eyelid above the lower lid and closes it onto the lower lid', () => {
  const left = RIG_BASES[RIG.blinkLeft]!;
  const right = RIG_BASES[RIG.blinkRight]!;
  const lidY = Math.min(...EYELIDS.left.lower.map((i) => V[3 * i + 1]!));
  for (let i = 0; i < 468; i++) {
    if (moved(left, i) > 0) {
      assert.ok(V[3 * i]! > 0.5, `left blink moved ${i} on the right side`);
      assert.ok(V[3 * i + 1]! > lidY, `left blink moved ${i} below the eye`);
      let d = Infinity;
      for (const j of EYELIDS.left.upper) d = Math.min(d, Math.hypot(V[3 * i]! - V[3 * j]!, V[3 * i + 1]! - V[3 * j + 1]!, V[3 * i + 2]! - V[3 * j + 2]!));
      assert.ok(d < 1, `left blink moved ${i}, ${d} cm from the lid`);
    }
    if (moved(right, i) > 0) assert.ok(V[3 * i]! < -0.5, `right blink moved ${i}`);
  }
  for (const i of [...EYELIDS.left.lower, ...BROWS, 13, 14, 1]) assert.equal(moved(left, i), 0, `vertex ${i}`);
  // Upper lid centre 386 lands on lower lid centre 374.
  assert.ok(Math.abs(V[386 * 3 + 1]! + left[386 * 3 + 1]! - V[374 * 3 + 1]!) < 1e-4);
  assert.ok(moved(left, 386) > 0.5);
});

test('mouth bases stay on the lower face and brow raise stays on the upper face', () => {
  for (const b of [RIG.jawOpen, RIG.lipRound, RIG.lipStretch, RIG.lipPress, RIG.upperLipRaise, RIG.lowerLipRaise, RIG.lipSeal]) {
    const basis = RIG_BASES[b]!;
    assert.ok(moved(basis, 13) + moved(basis, 14) + moved(basis, 61) > 0.05, `basis ${b} does not move the mouth`);
    for (const i of [...EYES, ...BROWS, ...FOREHEAD]) assert.equal(moved(basis, i), 0, `basis ${b} moved ${i}`);
  }
  const brow = RIG_BASES[RIG.browRaise]!;
  for (const i of BROWS) assert.ok(brow[3 * i + 1]! > 0.4);
  for (const i of [...EYES, 13, 14, 61, 291, 1, 152]) assert.equal(moved(brow, i), 0, `brow moved ${i}`);
});

test('retargeting keeps identity: neutral coefficients give the reference with its lips sealed', () => {
  const ref = synthLandmarks(20, 4, 10, -2, 256, 270);
  // A different identity: widen the eyes' landmarks by hand.
  for (const i of EYES) ref[2 * i]! += 3;
  const rig = new FaceRig(ref);
  const out = rig.landmarks(new Float32Array(NUM_RIG_COEFFS), NEUTRAL_POSE, new Float32Array(936));
  for (const i of [...EYES, ...BROWS, 1, 4, 234, 454]) {
    assert.ok(Math.abs(out[2 * i]! - ref[2 * i]!) < 1e-3 && Math.abs(out[2 * i + 1]! - ref[2 * i + 1]!) < 1e-3, `landmark ${i}`);
  }
  assert.ok(mouthOpening(ref) > 0.08, 'the canonical reference mouth is slightly open');
  assert.ok(mouthOpening(out) < 0.01, `rest mouth opening ${mouthOpening(out)}`);
  // Lips parted by 0.11 of the mouth width close partly by the jaw: the chin rises by under 2.5 mm (20 px/cm here).
  const chinRise = ref[2 * 152 + 1]! - out[2 * 152 + 1]!;
  assert.ok(chinRise >= 0 && chinRise < 0.25 * 20, `chin rose ${chinRise} px`);
});

test('a reference with a dropped jaw closes at rest by raising the jaw: the chin comes up, the lower lip keeps its thickness', () => {
  const closedRef = synthLandmarks(20, 0, 0, 0, 256, 256);
  const closedRig = new FaceRig(closedRef, { cameraDistanceCm: Infinity });
  // The same face with its jaw dropped (the rig's own jaw), as in a portrait caught mid-word.
  const c = new Float32Array(NUM_RIG_COEFFS);
  c[RIG.jawOpen] = 0.8;
  const openRef = Float32Array.from(closedRig.landmarks(c, NEUTRAL_POSE, new Float32Array(936)));
  assert.ok(mouthOpening(openRef) > 0.3, `open reference ${mouthOpening(openRef)}`);
  const rig = new FaceRig(openRef, { cameraDistanceCm: Infinity });
  assert.ok(rig.restJaw < -0.3, `rest jaw ${rig.restJaw}`);
  const sealedRef = Float32Array.from(closedRig.landmarks(new Float32Array(NUM_RIG_COEFFS), NEUTRAL_POSE, new Float32Array(936)));
  assert.equal(new FaceRig(sealedRef, { cameraDistanceCm: Infinity }).restJaw, 0, 'a reference whose lips meet keeps its jaw');
  const rest = rig.landmarks(new Float32Array(NUM_RIG_COEFFS), NEUTRAL_POSE, new Float32Array(936));
  assert.ok(mouthOpening(rest) < 0.02, `rest opening ${mouthOpening(rest)}`);
  assert.ok(openRef[2 * 152 + 1]! - rest[2 * 152 + 1]! > 0.5 * (openRef[2 * 152 + 1]! - closedRef[2 * 152 + 1]!), 'the chin came up');
  const thickness = (l: Float32Array): number => l[2 * 17 + 1]! - l[2 * 14 + 1]!; // lower lip, inner to outer at the middle
  // (The seal alone would stretch it to close the whole gap: 0.44 of the mouth's width, about twice its thickness.)
  assert.ok(Math.abs(thickness(rest) - thickness(openRef)) < 0.3 * thickness(openRef), `lower lip ${thickness(openRef)} -> ${thickness(rest)}`);
  // Closed whatever the head does (a 3D jaw raise would shear the lower lip sideways on a turn).
  for (const yawDeg of [-15, 15]) {
    const turned = rig.landmarks(new Float32Array(NUM_RIG_COEFFS), { ...NEUTRAL_POSE, yawDeg, pitchDeg: 8 }, new Float32Array(936));
    assert.ok(mouthOpening(turned) < 0.02, `yaw ${yawDeg}: opening ${mouthOpening(turned)}`);
  }
  // And it still opens from there.
  c[RIG.jawOpen] = 0.5;
  assert.ok(mouthOpening(rig.landmarks(c, NEUTRAL_POSE, new Float32Array(936))) > 0.15);
});

test('pose yaw turns the nose toward the image right, pitch moves it down', () => {
  const ref = synthLandmarks(20, 0, 0, 0, 256, 256);
  const rig = new FaceRig(ref, { cameraDistanceCm: Infinity });
  const c = new Float32Array(NUM_RIG_COEFFS);
  const yawed = rig.landmarks(c, { ...NEUTRAL_POSE, yawDeg: 10 }, new Float32Array(936));
  const rest = rig.landmarks(c, NEUTRAL_POSE, new Float32Array(936));
  assert.ok(yawed[2 * 4]! - rest[2 * 4]! > 10);
  const pitched = rig.landmarks(c, { ...NEUTRAL_POSE, pitchDeg: 10 }, new Float32Array(936));
  assert.ok(pitched[2 * 4 + 1]! - rest[2 * 4 + 1]! > 5);
  const jaw = new Float32Array(NUM_RIG_COEFFS);
  jaw[RIG.jawOpen] = 0.6;
  const open = rig.landmarks(jaw, NEUTRAL_POSE, new Float32Array(936));
  assert.ok(mouthOpening(open) > 0.15, `opening ${mouthOpening(open)}`);
  assert.ok(Math.abs(open[2 * 159 + 1]! - rest[2 * 159 + 1]!) < 1e-4, 'jaw moved the eye');
});

test('FaceRig rejects bad reference landmarks', () => {
  assert.throws(() => new FaceRig(new Float32Array(10)), TypeError);
  const bad = synthLandmarks(20, 0, 0, 0, 256, 256);
  bad[5] = Number.NaN;
  assert.throws(() => new FaceRig(bad), TypeError);
});

test('blink 1 brings the lids together and jaw 1 opens the mouth to about half its width on any portrait', () => {
  const canonical = synthLandmarks(20, 0, 0, 0, 256, 270);
  // A portrait with wider-open eyes, a wider mouth and its own lip gap than the canonical face.
  const wide = synthLandmarks(14, 9, 0, 0, 252, 270);
  for (const i of [...EYELIDS.left.upper, ...EYELIDS.right.upper]) wide[2 * i + 1]! -= 4;
  for (const i of LOWER_LIP) wide[2 * i + 1]! += 6;
  for (let i = 0; i < 468; i++) if (Math.abs(V[3 * i + 1]! + 3) < 2.5) wide[2 * i]! = 252 + (wide[2 * i]! - 252) * 1.35;
  for (const ref of [canonical, wide]) {
    const rig = new FaceRig(ref);
    const c = new Float32Array(NUM_RIG_COEFFS);
    c[RIG.blinkLeft] = 1;
    c[RIG.blinkRight] = 1;
    const closed = rig.landmarks(c, NEUTRAL_POSE, new Float32Array(936));
    for (const [u, l] of [[386, 374], [159, 145]] as const) assert.ok(Math.abs(closed[2 * l + 1]! - closed[2 * u + 1]!) < 0.5, `lid gap ${closed[2 * l + 1]! - closed[2 * u + 1]!}`);
    c.fill(0);
    c[RIG.jawOpen] = 1;
    const open = mouthOpening(rig.landmarks(c, NEUTRAL_POSE, new Float32Array(936)));
    assert.ok(open > 0.5 && open < 0.6, `jaw 1 opening ${open}`);
    assert.ok(Math.abs(rig.jawOpenRatio - open) < 1e-6);
    c[RIG.jawOpen] = 0.3;
    const third = mouthOpening(rig.landmarks(c, NEUTRAL_POSE, new Float32Array(936)));
    assert.ok(third > 0.12 && third < 0.22, `jaw 0.3 opening ${third}`);
  }
});

test('landmarksWithOffsets adds raw vertex offsets (canonical cm) to the rig mesh', () => {
  const ref = synthLandmarks(20, 0, 0, 0, 256, 270);
  const rig = new FaceRig(ref, { cameraDistanceCm: Infinity });
  const c = new Float32Array(NUM_RIG_COEFFS);
  const rest = rig.landmarks(c, NEUTRAL_POSE, new Float32Array(936));
  const offsets = new Float32Array(1404);
  offsets[3 * 14 + 1] = -1; // lower lip centre 1 cm down
  const moved = rig.landmarksWithOffsets(c, offsets, NEUTRAL_POSE, new Float32Array(936));
  assert.ok(Math.abs(moved[2 * 14 + 1]! - rest[2 * 14 + 1]! - 20) < 1e-3);
  assert.ok(Math.abs(moved[2 * 13 + 1]! - rest[2 * 13 + 1]!) < 1e-4);
  assert.deepEqual(rig.landmarksWithOffsets(c, null, NEUTRAL_POSE, new Float32Array(936)), rest);
  assert.throws(() => rig.landmarksWithOffsets(c, new Float32Array(10), NEUTRAL_POSE, new Float32Array(936)), TypeError);
});

test('lipPress 1 seals the lips at any jaw opening (jaw, lip drop and lip raise included); at rest it leaves the seal', () => {
  const canonical = synthLandmarks(20, 0, 0, 0, 256, 270);
  const wide = synthLandmarks(14, 9, 0, 0, 252, 270);
  for (const i of LOWER_LIP) wide[2 * i + 1]! += 6;
  for (const ref of [canonical, wide]) {
    const rig = new FaceRig(ref);
    const c = new Float32Array(NUM_RIG_COEFFS);
    c[RIG.lipPress] = 1;
    assert.ok(mouthOpening(rig.landmarks(c, NEUTRAL_POSE, new Float32Array(936))) < 0.01, 'press at rest opened the lips');
    c[RIG.jawOpen] = 1;
    c[RIG.upperLipRaise] = 0.3;
    assert.ok(mouthOpening(rig.landmarks(c, NEUTRAL_POSE, new Float32Array(936))) < 0.01, 'press did not seal an open jaw');
    c[RIG.lipPress] = 0.5;
    const half = mouthOpening(rig.landmarks(c, NEUTRAL_POSE, new Float32Array(936)));
    assert.ok(half > 0.05 && half < 0.25, `press 0.5 opening ${half}`);
  }
});
