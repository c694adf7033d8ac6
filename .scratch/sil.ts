import { FaceLandmarker } from '../engines/face/FaceLandmarker.ts';
import { ingestReference } from '../engines/face/ingestReference.ts';
import { readFile } from 'node:fs/promises';
import { Audio2Landmarks } from '../engines/motion/Audio2Landmarks.ts';
import { readWav } from '../server/media/wav.ts';
const lm = new FaceLandmarker();
const ref = await ingestReference(new Uint8Array(await readFile('assets/portraits/astronaut.png')), { width: 512, height: 512, maxBytes: 1e7, maxPixels: 1e8, landmarker: lm });
await lm.close();
const wav = await readWav('assets/speech/jfk.wav');
const a = new Audio2Landmarks({ fps: 25, width: 512, height: 512, referenceLandmarks: ref.landmarks, seed: 1 });
const pcm = new Float32Array(16000 * 5); pcm.set(wav.samples.subarray(0, 16000 * 3)); // 3 s speech + 2 s silence
const frames = a.push(pcm);
const LIPS = [61, 291, 0, 17, 13, 14];
let prev: Float32Array | undefined;
for (const f of frames) {
  if (prev && f.index % 5 === 0) {
    const d = (i: number) => Math.hypot(f.landmarks[2 * i]! - prev![2 * i]!, f.landmarks[2 * i + 1]! - prev![2 * i + 1]!);
    const nose = d(4);
    const lips = LIPS.map(d);
    console.log(f.index, (f.audioTimeMs / 1000).toFixed(2), 'open', f.mouthOpen.toFixed(3), 'nose', nose.toFixed(2), 'lips', lips.map((x) => x.toFixed(2)).join(' '), 'pose', f.pose.pitchDeg.toFixed(2), f.pose.yawDeg.toFixed(2), f.pose.rollDeg.toFixed(2));
  }
  prev = f.landmarks;
}
