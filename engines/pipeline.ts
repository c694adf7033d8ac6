import { createMotionStage, type MotionEngineConfig } from './motion/createMotionStage.ts';
import type { FaceMouthMix, FaceSample } from './motion/FaceDrive.ts';
import type { ExpressionComponent, PoseTemplate } from './motion/MotionEdits.ts';
import type { MotionStage } from './motion/MotionStage.ts';
import type { FrameRenderer, RenderEngine } from './render/createRenderEngine.ts';
import { drawLandmarkImage } from './render/neural/LandmarkImage.ts';
import type { MotionFrame, ReferencePortrait, RgbaImage } from './types.ts';

/** Options of one session's pipeline. */
export interface AvatarPipelineOptions {
  fps: number;
  reference: ReferencePortrait;
  /** Renderer shared by the sessions of this thread. */
  engine: RenderEngine;
  /** Which motion engines (embedded by default). */
  motion?: Partial<MotionEngineConfig>;
  /** Seed of head motion, blinks and (neural) latent noise. */
  seed?: number;
  /** Clock of live face samples' freshness, ms (default performance.now; offline renders pass media time). */
  clock?: () => number;
}

/** Client-driven adjustments (from the `control` data channel). */
export type PipelineControl =
  | { type: 'clear' }
  | { type: 'pose'; yaw: number; pitch: number; roll: number }
  | { type: 'pose'; reset: true }
  | { type: 'expression'; scale: number }
  /** A live face sample (webcam, driving video); null: the face is lost. */
  | { type: 'face'; sample: FaceSample | null }
  /** Which drives the mouth while a face is present. */
  | { type: 'faceMix'; mouth: FaceMouthMix }
  /** Motion editing: expression components (smile, browRaise, eyeWiden, jaw) set, ramped over rampMs. */
  | { type: 'edit'; values: Partial<Record<ExpressionComponent, number>>; rampMs: number }
  /** Motion editing: a head-pose template (keyframes; looped or once), or null to go back to the audio-driven head. */
  | { type: 'poseTemplate'; template: PoseTemplate | null }
  /** Debug: show the landmark image (lines on black, lips coloured) instead of the rendered portrait. */
  | { type: 'view'; mode: PipelineView };

/** What the session's video shows. */
export type PipelineView = 'video' | 'landmarks';

/**
 * Stage composition for one session, no I/O: 16 kHz audio in -> motion frames -> RGBA frames.
 * Motion runs for every frame; rendering is a separate step so a caller that is behind can skip frames.
 */
export class AvatarPipeline {
  private view: PipelineView = 'video';

  private constructor(
    readonly fps: number,
    readonly reference: ReferencePortrait,
    private readonly motion: MotionStage,
    private readonly renderer: FrameRenderer,
  ) {}

  /** Build the motion stage and open a renderer session (the portrait is prepared once per engine). */
  static async create({ fps, reference, engine, motion, seed = 1, clock }: AvatarPipelineOptions): Promise<AvatarPipeline> {
    await engine.prepare(reference);
    const stage = await createMotionStage({
      fps,
      width: reference.image.width,
      height: reference.image.height,
      referenceLandmarks: reference.landmarks,
      seed,
      ...(motion ? { engine: motion } : {}),
      ...(clock ? { clock } : {}),
    });
    return new AvatarPipeline(fps, reference, stage, engine.openSession(reference.id, seed));
  }

  /** Future audio the motion stage waits for before a frame is final, ms. */
  get lookaheadMs(): number {
    return this.motion.lookaheadMs;
  }

  /** Frames the renderer takes at once (1 for warp; the neural engine's chunk size). */
  get chunkFrames(): number {
    return this.renderer.chunkFrames;
  }

  /** Feed 16 kHz mono audio; resolves (in call order) with the frames whose audio and lookahead are complete. */
  pushAudio(pcm16k: Float32Array): Promise<MotionFrame[]> {
    return this.motion.push(pcm16k);
  }

  /** Render `chunkFrames` motion frames (fewer only at the end of a stream); images may be reused by the next call. */
  render(frames: readonly MotionFrame[]): Promise<RgbaImage[]> {
    if (this.view === 'landmarks') {
      const { width, height } = this.reference.image;
      return Promise.resolve(frames.map((f) => drawLandmarkImage(f.landmarks, { width, height })));
    }
    return this.renderer.render(frames);
  }

  /** Apply a client control message; `clear` returns the frames to show at once (the mouth gliding to rest). */
  control(msg: PipelineControl): MotionFrame[] {
    switch (msg.type) {
      case 'clear':
        this.renderer.reset();
        return this.motion.clear();
      case 'pose':
        this.motion.setPoseOverride('reset' in msg ? null : { yaw: msg.yaw, pitch: msg.pitch, roll: msg.roll });
        break;
      case 'expression':
        this.motion.setExpressionScale(msg.scale);
        break;
      case 'face':
        this.motion.overlay.face.set(msg.sample);
        break;
      case 'faceMix':
        this.motion.overlay.face.setMouthMix(msg.mouth);
        break;
      case 'edit':
        this.motion.overlay.edits.setExpression(msg.values, msg.rampMs);
        break;
      case 'poseTemplate':
        this.motion.overlay.edits.setPoseTemplate(msg.template);
        break;
      case 'view':
        // The renderer's temporal context is stale after frames it did not render.
        if (msg.mode !== this.view) this.renderer.reset();
        this.view = msg.mode;
        break;
    }
    return [];
  }

  async dispose(): Promise<void> {
    this.renderer.close();
    await this.motion.dispose();
  }
}
