import { CANONICAL_VERTICES } from '../../engines/motion/canonicalMesh.ts';
import { NUM_LANDMARKS } from '../../engines/types.ts';

/** Landmarks of the frontal canonical face at `pxPerCm`, its origin at (cx, cy) in the frame (image y down). */
export function canonicalLandmarks(pxPerCm = 20, cx = 256, cy = 270): Float32Array {
  const out = new Float32Array(NUM_LANDMARKS * 2);
  for (let i = 0; i < NUM_LANDMARKS; i++) {
    out[2 * i] = cx + pxPerCm * CANONICAL_VERTICES[3 * i]!;
    out[2 * i + 1] = cy - pxPerCm * CANONICAL_VERTICES[3 * i + 1]!;
  }
  return out;
}
