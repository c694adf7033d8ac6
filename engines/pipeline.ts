import { Audio2Landmarks } from './motion/Audio2Landmarks.ts';
import type { MotionFrame, ReferencePortrait, Renderer, RgbaImage } from './types.ts';

/** Options of one session's pipeline. */
export interface AvatarPipelineOptions {
  fps: number;
  reference: ReferencePortrait;
  renderer: Renderer;
  /** Seed of head motion and blinks. */
  seed?: number;
}

/** Client-driven adjustments (from the `control` data channel). */
export type PipelineControl =
  | { type: 'clear' }
  | { type: 'pose'; yaw: number; pitch: number; roll: number }
  | { type: 'pose'; reset: true }
  | { type: 'expression'; scale: number };

/**
 * Stage composition for one session, no I/O: 16 kHz audio in -> motion frames -> RGBA frames.
 * Motion runs for every frame; rendering is a separate step so a caller that is behind can skip it.
 */
export class AvatarPipeline {
  readonly fps: number;
  readonly reference: ReferencePortrait;
  private readonly motion: Audio2Landmarks;
  private readonly renderer: Renderer;

  constructor({ fps, reference, renderer, seed = 1 }: AvatarPipelineOptions) {
    this.fps = fps;
    this.reference = reference;
    this.renderer = renderer;
    this.motion = new Audio2Landmarks({
      fps,
      width: reference.image.width,
      height: reference.image.height,
      referenceLandmarks: reference.landmarks,
      seed,
    });
  }

  /** Future audio the motion stage waits for before a frame is final, ms. */
  get lookaheadMs(): number {
    return this.motion.lookaheadMs;
  }

  /** Make the renderer ready for this portrait (cached by the renderer). */
  async prepare(): Promise<void> {
    await this.renderer.prepare(this.reference);
  }

  /** Feed 16 kHz mono audio; returns the frames whose audio (and lookahead) is now complete. */
  pushAudio(pcm16k: Float32Array): MotionFrame[] {
    return this.motion.push(pcm16k);
  }

  /** Render one motion frame of this session's portrait. */
  async render(frame: MotionFrame): Promise<RgbaImage> {
    const [image] = await this.renderer.render([
      { referenceId: this.reference.id, landmarks: frame.landmarks, frameIndex: frame.index, mouthOpen: frame.mouthOpen },
    ]);
    if (!image) throw new Error(`renderer ${this.renderer.name} returned no frame [frameIndex:${frame.index}]`);
    return image;
  }

  /** Apply a client control message. */
  control(msg: PipelineControl): void {
    switch (msg.type) {
      case 'clear':
        this.motion.clear();
        break;
      case 'pose':
        this.motion.setPoseOverride('reset' in msg ? null : { yaw: msg.yaw, pitch: msg.pitch, roll: msg.roll });
        break;
      case 'expression':
        this.motion.setExpressionScale(msg.scale);
        break;
    }
  }
}
