import type { HeadPose } from '../types.ts';
import { FaceDrive, faceFields } from './FaceDrive.ts';
import { MotionEdits } from './MotionEdits.ts';

/** What is layered over the audio-driven motion of every frame: a live face (FaceDrive), then the client's edits (MotionEdits). */
export class MotionOverlay {
  readonly face: FaceDrive;
  readonly edits: MotionEdits;

  constructor(jawOpenRatio: number, clock?: () => number) {
    this.face = new FaceDrive(jawOpenRatio, clock);
    this.edits = new MotionEdits(clock);
  }

  /** Layers both over one frame's rig coefficients and pose, in place; returns how much the face drives the mouth. */
  apply(c: Float32Array, pose: HeadPose): number {
    const faceMouth = this.face.apply(c, pose);
    this.edits.apply(c, pose);
    return faceMouth;
  }

  /** The motion frame's face fields (faceT, gaze) while a face drives it. */
  frameFields(): { faceT?: number; gaze?: { x: number; y: number } } {
    return faceFields(this.face);
  }
}
