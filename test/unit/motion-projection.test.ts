import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CANONICAL_VERTICES, PROCRUSTES_IDS, PROCRUSTES_WEIGHTS } from '../../engines/motion/canonicalMesh.ts';
import { FaceRig, NEUTRAL_POSE } from '../../engines/motion/FaceRig.ts';
import { NUM_RIG_COEFFS, RIG_BASES } from '../../engines/motion/rigBases.ts';
import type { HeadPose } from '../../engines/types.ts';

// The camera model written out by hand from FaceRig / fitCamera's documentation, without calling their projection code:
//   canonical frame: x = subject's left (image right when frontal), y up, z toward the viewer, cm;
//   fitted camera: X_cam = R X (R row-major), u = tx + s X_cam.x, v = ty - s X_cam.y (image y points down);
//   head pose A = Rz(roll) Ry(yaw) Rx(pitch), right-handed, about the pivot P = R [0, -2, -6] (neck, canonical cm):
//   Y = A (R X - P) + P + [0, 0, tz / s], u = tx + pose.tx + f Y.x, v = ty + pose.ty - f Y.y, with
//   f = s under weak perspective and f = s (D - depth0) / (D - Y.z) at camera distance D, depth0 being the
//   Procrustes-weighted mean of (R X).z over the fitted points (so the reference depth keeps scale s).

type Mat3 = number[][];
const V = CANONICAL_VERTICES;
const rad = (deg: number): number => (deg * Math.PI) / 180;
const mul = (a: Mat3, b: Mat3): Mat3 => a.map((row) => [0, 1, 2].map((c) => row[0]! * b[0]![c]! + row[1]! * b[1]![c]! + row[2]! * b[2]![c]!));
const apply = (m: Mat3, p: readonly number[]): number[] => m.map((row) => row[0]! * p[0]! + row[1]! * p[1]! + row[2]! * p[2]!);
const rotX = (deg: number): Mat3 => {
  const c = Math.cos(rad(deg)), s = Math.sin(rad(deg));
  return [[1, 0, 0], [0, c, -s], [0, s, c]];
};
const rotY = (deg: number): Mat3 => {
  const c = Math.cos(rad(deg)), s = Math.sin(rad(deg));
  return [[c, 0, s], [0, 1, 0], [-s, 0, c]];
};
const rotZ = (deg: number): Mat3 => {
  const c = Math.cos(rad(deg)), s = Math.sin(rad(deg));
  return [[c, -s, 0], [s, c, 0], [0, 0, 1]];
};
/** Head pose rotation: pitch about x first, then yaw about y, then roll about z. */
const poseMatrix = (p: HeadPose): Mat3 => mul(rotZ(p.rollDeg), mul(rotY(p.yawDeg), rotX(p.pitchDeg)));
const vertex = (i: number): number[] => [V[3 * i]!, V[3 * i + 1]!, V[3 * i + 2]!];

interface HandCamera {
  s: number;
  R: Mat3;
  tx: number;
  ty: number;
}

/** Landmarks of the canonical face seen by a known camera (the reference portrait), by hand. */
function referenceOf(cam: HandCamera): Float32Array {
  const out = new Float32Array(936);
  for (let i = 0; i < 468; i++) {
    const X = apply(cam.R, vertex(i));
    out[2 * i] = cam.tx + cam.s * X[0]!;
    out[2 * i + 1] = cam.ty - cam.s * X[1]!;
  }
  return out;
}

/** The image point of canonical point `x` under camera `cam`, head `pose` and camera distance `D` (Infinity = weak). */
function handProject(cam: HandCamera, x: readonly number[], pose: HeadPose, D: number): [number, number] {
  const A = poseMatrix(pose);
  const P = apply(cam.R, [0, -2, -6]);
  const RX = apply(cam.R, x);
  const AX = apply(A, [RX[0]! - P[0]!, RX[1]! - P[1]!, RX[2]! - P[2]!]);
  const Y = [AX[0]! + P[0]!, AX[1]! + P[1]!, AX[2]! + P[2]! + pose.tz / cam.s];
  let f = cam.s;
  if (Number.isFinite(D)) {
    let z = 0, w = 0;
    for (let k = 0; k < PROCRUSTES_IDS.length; k++) {
      z += PROCRUSTES_WEIGHTS[k]! * apply(cam.R, vertex(PROCRUSTES_IDS[k]!))[2]!;
      w += PROCRUSTES_WEIGHTS[k]!;
    }
    f = (cam.s * (D - z / w)) / (D - Y[2]!);
  }
  return [cam.tx + pose.tx + f * Y[0]!, cam.ty + pose.ty - f * Y[1]!];
}

/** The rig's fitted camera as plain numbers (the fit's output is data here, not projection code). */
function cameraOf(rig: FaceRig): HandCamera {
  const r = rig.camera.rotation;
  return { s: rig.camera.scale, R: [[r[0]!, r[1]!, r[2]!], [r[3]!, r[4]!, r[5]!], [r[6]!, r[7]!, r[8]!]], tx: rig.camera.tx, ty: rig.camera.ty };
}

// Reference: the canonical face 20 px/cm, turned a little (pitch 4, yaw -6, roll 2), canonical origin at (256, 270).
const KNOWN: HandCamera = { s: 20, R: poseMatrix({ ...NEUTRAL_POSE, pitchDeg: 4, yawDeg: -6, rollDeg: 2 }), tx: 256, ty: 270 };
const POSE: HeadPose = { pitchDeg: -5, yawDeg: 10, rollDeg: 3, tx: 4.5, ty: -2.25, tz: 0 };
const NOSE_TIP = 4;
const POINTS = [NOSE_TIP, 1, 10, 33, 263, 234, 454, 152, 61];
/** Those of POINTS that no rig basis moves. */
const STILL = POINTS.filter((i) => RIG_BASES.every((b) => b[3 * i] === 0 && b[3 * i + 1] === 0 && b[3 * i + 2] === 0));

test('projection matches a hand-computed point', () => {
  const ref = referenceOf(KNOWN);
  for (const D of [Infinity, 60]) {
    const rig = new FaceRig(ref, { cameraDistanceCm: D });
    const cam = cameraOf(rig);
    // The fit recovers the known camera (a sanity check of the inputs; the comparison below uses the fitted one).
    assert.ok(Math.abs(cam.s - KNOWN.s) < 1e-3 && Math.abs(cam.tx - KNOWN.tx) < 0.01 && Math.abs(cam.ty - KNOWN.ty) < 0.01, `camera ${cam.s} ${cam.tx} ${cam.ty}`);
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) assert.ok(Math.abs(cam.R[a]![b]! - KNOWN.R[a]![b]!) < 1e-4, `R[${a}][${b}]`);

    const out = rig.project(CANONICAL_VERTICES, POSE, new Float32Array(936));
    for (const i of POINTS) {
      const [u, v] = handProject(cam, vertex(i), POSE, D);
      assert.ok(Math.abs(out[2 * i]! - u) < 0.01 && Math.abs(out[2 * i + 1]! - v) < 0.01, `D ${D} vertex ${i}: (${out[2 * i]}, ${out[2 * i + 1]}) vs hand (${u}, ${v})`);
    }
    // The pose moves the point by many pixels, so the match is not the neutral position by accident.
    const [u0, v0] = handProject(cam, vertex(NOSE_TIP), NEUTRAL_POSE, D);
    assert.ok(Math.hypot(out[2 * NOSE_TIP]! - u0, out[2 * NOSE_TIP + 1]! - v0) > 10);

    // Depth translation (perspective only): tz px toward the viewer scales about the camera axis.
    if (Number.isFinite(D)) {
      const near = { ...POSE, tz: 40 };
      const o = rig.project(CANONICAL_VERTICES, near, new Float32Array(936));
      const [u, v] = handProject(cam, vertex(NOSE_TIP), near, D);
      assert.ok(Math.abs(o[2 * NOSE_TIP]! - u) < 0.01 && Math.abs(o[2 * NOSE_TIP + 1]! - v) < 0.01, `tz: (${o[2 * NOSE_TIP]}, ${o[2 * NOSE_TIP + 1]}) vs hand (${u}, ${v})`);
    }

    // Retargeted landmarks of a vertex no rig basis moves: reference + project(pose) - project(neutral).
    assert.ok(STILL.includes(NOSE_TIP));
    const lm = rig.landmarks(new Float32Array(NUM_RIG_COEFFS), POSE, new Float32Array(936));
    const [uP, vP] = handProject(cam, vertex(NOSE_TIP), POSE, D);
    assert.ok(Math.abs(lm[2 * NOSE_TIP]! - (ref[2 * NOSE_TIP]! + uP - u0)) < 0.01, `retargeted u ${lm[2 * NOSE_TIP]}`);
    assert.ok(Math.abs(lm[2 * NOSE_TIP + 1]! - (ref[2 * NOSE_TIP + 1]! + vP - v0)) < 0.01, `retargeted v ${lm[2 * NOSE_TIP + 1]}`);
  }
});

test('the neutral pose reproduces the fitted point', () => {
  const ref = referenceOf(KNOWN);
  // A different identity: a landmark off the canonical face, which retargeting must keep.
  ref[2 * NOSE_TIP] = ref[2 * NOSE_TIP]! + 2.5;
  ref[2 * NOSE_TIP + 1] = ref[2 * NOSE_TIP + 1]! - 1.5;
  for (const D of [Infinity, 60]) {
    const rig = new FaceRig(ref, { cameraDistanceCm: D });
    const cam = cameraOf(rig);
    const out = rig.project(CANONICAL_VERTICES, NEUTRAL_POSE, new Float32Array(936));
    const lm = rig.landmarks(new Float32Array(NUM_RIG_COEFFS), NEUTRAL_POSE, new Float32Array(936));
    for (const i of POINTS) {
      const X = apply(cam.R, vertex(i));
      // Under weak perspective the neutral projection is the fitted camera's point u = tx + s (R X).x, v = ty - s (R X).y;
      // with perspective the depth gain is (D - depth0) / (D - (R X).z) about the same point.
      const [u, v] = Number.isFinite(D) ? handProject(cam, vertex(i), NEUTRAL_POSE, D) : [cam.tx + cam.s * X[0]!, cam.ty - cam.s * X[1]!];
      assert.ok(Math.abs(out[2 * i]! - u) < 0.01 && Math.abs(out[2 * i + 1]! - v) < 0.01, `D ${D} fitted point ${i}`);
      // The neutral pose gives the reference landmark back (at vertices that the rest lip seal does not move).
      if (STILL.includes(i)) assert.ok(Math.abs(lm[2 * i]! - ref[2 * i]!) < 0.01 && Math.abs(lm[2 * i + 1]! - ref[2 * i + 1]!) < 0.01, `D ${D} landmark ${i}: (${lm[2 * i]}, ${lm[2 * i + 1]}) vs (${ref[2 * i]}, ${ref[2 * i + 1]})`);
    }
  }
});
