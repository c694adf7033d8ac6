/**
 * The offline frame loop shared by the render CLI (renderFile) and the real-video evaluation (eval/real):
 * 16 kHz audio goes into the pipeline in 20 ms chunks, as decoded Opus arrives in a session, and motion frames
 * are rendered `chunkFrames` at a time; silence after the end releases the frames held back for the motion
 * stage's lookahead.
 */
import type { AvatarPipeline } from '../../engines/pipeline.ts';
import { AUDIO_RATE, type MotionFrame, type RgbaImage } from '../../engines/types.ts';

/** 20 ms at 16 kHz. */
export const CHUNK = 320;

/**
 * Render frames 0..total-1 of `pcm16k` through `pipeline`, calling `onFrame` for each in order (the image may be
 * reused by the next render call: copy it to keep it). Resolves with the number of frames delivered.
 */
export async function runFrameLoop(
  pipeline: AvatarPipeline,
  pcm16k: Float32Array,
  total: number,
  onFrame: (image: RgbaImage, motion: MotionFrame, index: number) => void | Promise<void>,
  beforeFrame?: (index: number) => void,
): Promise<number> {
  let done = 0;
  // Frame k is made once audio up to (k+1)/fps + lookahead has arrived: `beforeFrame` runs just before the push that
  // makes it (a driving face's sample for that frame).
  const frameMs = 1000 / pipeline.fps;
  let pushedMs = 0;
  let announced = 0;
  const push = (chunk: Float32Array): Promise<MotionFrame[]> => {
    pushedMs += (chunk.length / AUDIO_RATE) * 1000;
    for (; beforeFrame && (announced + 1) * frameMs + pipeline.lookaheadMs <= pushedMs + 1e-6; announced++) beforeFrame(announced);
    return pipeline.pushAudio(chunk);
  };
  const pending: MotionFrame[] = [];
  const renderFrames = async (frames: MotionFrame[]): Promise<void> => {
    pending.push(...frames);
    while (pending.length >= pipeline.chunkFrames && done < total) {
      const batch = pending.splice(0, pipeline.chunkFrames);
      const images = await pipeline.render(batch);
      for (let i = 0; i < images.length; i++) {
        if (done >= total) break;
        await onFrame(images[i]!, batch[i]!, done);
        done++;
      }
    }
  };
  for (let at = 0; at < pcm16k.length; at += CHUNK) await renderFrames(await push(pcm16k.subarray(at, at + CHUNK)));
  const silence = new Float32Array(CHUNK);
  for (let guard = 0; done < total && guard < 10_000; guard++) await renderFrames(await push(silence));
  return done;
}
