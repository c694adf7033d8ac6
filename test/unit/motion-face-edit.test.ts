import assert from 'node:assert/strict';
import { test } from 'node:test';
import { headAnglesFromMatrix, mouthOpeningOf } from '../../engines/face/mediaPipePose.ts';
import { FACE_GLIDE_BACK_MS, FaceDrive, type FaceSample } from '../../engines/motion/FaceDrive.ts';
import { eulerToMatrix, NEUTRAL_POSE } from '../../engines/motion/FaceRig.ts';
import { MotionEdits } from '../../engines/motion/MotionEdits.ts';
import { NUM_RIG_COEFFS, RIG } from '../../engines/motion/rigBases.ts';
import type { HeadPose } from '../../engines/types.ts';
import { parseControlMessage } from '../../server/session/controlMessages.ts';

const BLINK_LEFT = 9;
const JAW_RATIO = 0.3;

function face(over: Partial<FaceSample> = {}, bs: Record<number, number> = {}): FaceSample {
  const blendshapes = new Float32Array(52);
  for (const [i, v] of Object.entries(bs)) blendshapes[Number(i)] = v;
  return { yawDeg: 0, pitchDeg: 0, rollDeg: 0, mouthOpen: 0, blendshapes, ...over };
}

/** A FaceDrive on a test clock, and one frame through it. */
function rig(): { drive: FaceDrive; at: (ms: number) => void; frame: (audioJaw?: number) => { c: Float32Array; pose: HeadPose } } {
  let now = 0;
  const drive = new FaceDrive(JAW_RATIO, () => now);
  return {
    drive,
    at: (ms) => (now = ms),
    frame: (audioJaw = 0) => {
      const c = new Float32Array(NUM_RIG_COEFFS);
      c[RIG.jawOpen] = audioJaw;
      const pose = { ...NEUTRAL_POSE, yawDeg: 2 };
      drive.apply(c, pose);
      return { c, pose };
    },
  };
}

test('head angles from a MediaPipe matrix come back in the rig convention (round trip through eulerToMatrix)', () => {
  for (const [pitch, yaw, roll] of [[10, -20, 5], [-8, 15, -12], [0, 0, 0]] as const) {
    const r = eulerToMatrix(pitch, yaw, roll);
    // The 3x3 rotation (row-major) as a 4x4 column-major matrix.
    const m = new Float32Array(16);
    for (let row = 0; row < 3; row++) for (let col = 0; col < 3; col++) m[col * 4 + row] = r[row * 3 + col]!;
    m[15] = 1;
    const a = headAnglesFromMatrix(m);
    assert.ok(Math.abs(a.yawDeg - yaw) < 0.01 && Math.abs(a.pitchDeg - pitch) < 0.01 && Math.abs(a.rollDeg - roll) < 0.01, JSON.stringify(a));
  }
  const pts = new Map<number, [number, number]>([[13, [50, 40]], [14, [50, 52]], [61, [30, 45]], [291, [70, 45]]]);
  assert.equal(mouthOpeningOf((i) => pts.get(i)![0], (i) => pts.get(i)![1]), 12 / 40);
});

test('a fresh face drives head (relative to its neutral), eyes, brows and jaw (opening / the portrait jaw ratio)', () => {
  const { drive, at, frame } = rig();
  for (let k = 0; k < 10; k++) drive.set(face({ yawDeg: 5, pitchDeg: -3, mouthOpen: 0.02 })); // the driver's neutral: camera angle, lips at rest
  at(200);
  drive.set(face({ yawDeg: 15, pitchDeg: -3, mouthOpen: 0.02 + 0.15 }, { [BLINK_LEFT]: 0.9 }));
  for (const t of [240, 280, 320]) {
    at(t); // frames 40 ms apart: the face fades in over 120 ms
    frame();
  }
  at(360);
  const { c, pose } = frame();
  assert.ok(Math.abs(pose.yawDeg - 10) < 1e-4, `yaw ${pose.yawDeg}`);
  assert.ok(Math.abs(pose.pitchDeg) < 1e-4);
  assert.ok(Math.abs(c[RIG.jawOpen]! - 0.15 / JAW_RATIO) < 1e-4, `jaw ${c[RIG.jawOpen]}`);
  assert.equal(c[RIG.blinkLeft], 1);
  assert.equal(c[RIG.blinkRight], 0);
});

test('mouth mix: "audio" keeps the voice-driven mouth, "max" the wider of both; eyes follow the face either way', () => {
  const { drive, at, frame } = rig();
  drive.set(face({ mouthOpen: 0.02 })); // lips at rest: the driver's rest opening
  drive.set(face({ mouthOpen: 0.02 + 0.06 }, { [BLINK_LEFT]: 0.9 }));
  for (const t of [40, 80, 120, 160]) {
    at(t);
    frame();
  }
  drive.setMouthMix('audio');
  let f = frame(0.5);
  assert.ok(Math.abs(f.c[RIG.jawOpen]! - 0.5) < 1e-6);
  assert.equal(f.c[RIG.blinkLeft], 1);
  drive.setMouthMix('max');
  f = frame(0.5);
  assert.ok(Math.abs(f.c[RIG.jawOpen]! - 0.5) < 1e-6);
  f = frame(0.1);
  assert.ok(Math.abs(f.c[RIG.jawOpen]! - 0.2) < 1e-6, `max(0.1, 0.2) = ${f.c[RIG.jawOpen]}`);
});

test('when samples stop (or the face is lost) the motion glides back to the audio-driven one', () => {
  const { drive, at, frame } = rig();
  for (let k = 0; k < 10; k++) drive.set(face({ yawDeg: 0 }));
  at(100);
  drive.set(face({ yawDeg: 20, mouthOpen: 0.32 }));
  for (const t of [140, 180, 220, 260]) {
    at(t);
    frame();
  }
  at(300);
  assert.ok(Math.abs(frame().pose.yawDeg - 20) < 1e-4);
  at(100 + 250 + 40); // stale
  const early = frame();
  at(100 + 250 + FACE_GLIDE_BACK_MS / 2);
  const mid = frame();
  assert.ok(mid.pose.yawDeg < early.pose.yawDeg && mid.pose.yawDeg > 2, `gliding: ${early.pose.yawDeg} -> ${mid.pose.yawDeg}`);
  at(100 + 250 + FACE_GLIDE_BACK_MS + 50);
  const back = frame(0.4);
  assert.equal(back.pose.yawDeg, 2, 'the audio-driven head again');
  assert.ok(Math.abs(back.c[RIG.jawOpen]! - 0.4) < 1e-6);
  // A "lost" message starts the glide at once.
  drive.set(face({ yawDeg: 20 }));
  for (const t of [1040, 1080, 1120, 1160, 1200]) {
    at(t);
    frame();
  }
  drive.set(null);
  at(1240);
  const lost = frame().pose.yawDeg;
  assert.ok(lost < 20 && lost > 2, `the glide starts at once: ${lost}`);
});

test('motion edits: components ramp from their current value; a pose template passes through its keyframes, loops, and fades out on reset', () => {
  let now = 0;
  const edits = new MotionEdits(() => now);
  edits.setExpression({ smile: 1, jaw: 0.4 }, 1000);
  now = 500;
  assert.ok(Math.abs(edits.value('smile') - 0.5) < 1e-9);
  now = 1000;
  assert.equal(edits.value('jaw'), 0.4);
  const c = new Float32Array(NUM_RIG_COEFFS);
  const pose = { ...NEUTRAL_POSE };
  edits.apply(c, pose);
  assert.ok(Math.abs(c[RIG.jawOpen]! - 0.4) < 1e-6 && c[RIG.lipStretch]! > 0.7);

  edits.setPoseTemplate({ loop: true, keyframes: [{ atMs: 0, yawDeg: 0, pitchDeg: 0, rollDeg: 0 }, { atMs: 500, yawDeg: 10, pitchDeg: 0, rollDeg: 0 }, { atMs: 1000, yawDeg: 0, pitchDeg: 5, rollDeg: 0 }] });
  const yawAt = (t: number) => {
    now = t;
    const p = { ...NEUTRAL_POSE, yawDeg: -3 };
    edits.apply(new Float32Array(NUM_RIG_COEFFS), p);
    return p;
  };
  for (let t = 1000; t <= 1400; t += 40) yawAt(t); // fade in
  assert.ok(Math.abs(yawAt(1500).yawDeg - 10) < 1e-6, 'through the keyframe');
  assert.ok(Math.abs(yawAt(2000).pitchDeg - 0) < 1e-6 && Math.abs(yawAt(2500).yawDeg - 10) < 1e-6, 'looped');
  edits.setPoseTemplate(null);
  yawAt(2510);
  assert.equal(yawAt(2900).yawDeg, -3, 'back to the driven head after the fade');
});

test('control messages: face, faceMix, edit and poseTemplate are validated field by field', () => {
  const bs = new Array(52).fill(0.1);
  const ok = parseControlMessage(JSON.stringify({ type: 'face', pose: [10, -5, 2], open: 0.2, bs, t: 123 }));
  assert.ok('message' in ok && ok.message.type === 'face' && ok.message.sample?.yawDeg === 10 && ok.message.sample.t === 123);
  const lost = parseControlMessage('{"type":"face","lost":true}');
  assert.ok('message' in lost && lost.message.type === 'face' && lost.message.sample === null);
  const errors: [unknown, RegExp][] = [
    [{ type: 'face', pose: [0, 0, 0], open: 0.2, bs: bs.slice(1) }, /face\.bs must be an array of 52/],
    [{ type: 'face', pose: [0, 0], open: 0.2, bs }, /face\.pose/],
    [{ type: 'face', pose: [0, 0, 95], open: 0.2, bs }, /within \+-90/],
    [{ type: 'face', pose: [0, 0, 0], open: -1, bs }, /face\.open/],
    [{ type: 'face', pose: [0, 0, 0], open: 0.2, bs: [...bs.slice(1), 2] }, /face\.bs\[51\]/],
    [{ type: 'face', pose: [0, 0, 0], open: 0.2, bs: [...bs.slice(1), 'x'] }, /face\.bs\[51\]/],
    [{ type: 'faceMix', mouth: 'nose' }, /faceMix\.mouth/],
    [{ type: 'edit' }, /at least one/],
    [{ type: 'edit', grin: 1 }, /unknown component "grin"/],
    [{ type: 'edit', smile: 2 }, /edit\.smile must be/],
    [{ type: 'edit', jaw: 0.5, rampMs: -1 }, /rampMs/],
    [{ type: 'poseTemplate', keyframes: [] }, /1\.\.240/],
    [{ type: 'poseTemplate', keyframes: [[0, 0, 0]] }, /\[ms, yaw, pitch, roll\]/],
    [{ type: 'poseTemplate', keyframes: [[100, 0, 0, 0], [50, 0, 0, 0]] }, /must not decrease/],
    [{ type: 'poseTemplate', keyframes: [[0, 45, 0, 0]] }, /\+-30/],
    [{ type: 'poseTemplate', keyframes: new Array(241).fill([0, 0, 0, 0]) }, /1\.\.240/],
  ];
  for (const [msg, re] of errors) {
    const r = parseControlMessage(JSON.stringify(msg));
    assert.ok('error' in r && re.test(r.error), `${JSON.stringify(msg).slice(0, 80)} -> ${JSON.stringify(r).slice(0, 120)}`);
  }
  const edit = parseControlMessage('{"type":"edit","smile":0.5,"rampMs":300}');
  assert.deepEqual(edit, { message: { type: 'edit', values: { smile: 0.5 }, rampMs: 300 } });
  const tpl = parseControlMessage('{"type":"poseTemplate","loop":true,"keyframes":[[0,1,2,3],[100,4,5,6]]}');
  assert.ok('message' in tpl && tpl.message.type === 'poseTemplate' && tpl.message.template?.loop === true && tpl.message.template.keyframes[1]!.rollDeg === 6);
});

test('the driver\'s gaze (eyeLook blendshapes) reaches the frame on image axes while the face drives', () => {
  const { drive, at, frame } = rig();
  const LOOK_OUT_LEFT = 15, LOOK_IN_RIGHT = 14, LOOK_DOWN_LEFT = 11, LOOK_DOWN_RIGHT = 12;
  assert.equal(drive.gaze, undefined);
  // Both eyes look toward the subject's left (the image's right) and down.
  drive.set(face({}, { [LOOK_OUT_LEFT]: 0.6, [LOOK_IN_RIGHT]: 0.6, [LOOK_DOWN_LEFT]: 0.4, [LOOK_DOWN_RIGHT]: 0.4 }));
  for (const t of [40, 80, 120, 160]) {
    at(t);
    frame();
  }
  const g = drive.gaze!;
  assert.ok(Math.abs(g.x - 0.6) < 1e-6 && Math.abs(g.y - 0.4) < 1e-6, JSON.stringify(g));
});
