/**
 * MediaPipe canonical face mesh (engines/motion/data, Apache-2.0), loaded once at import.
 * Units cm; +y up, +z toward the viewer, +x the subject's left. Vertex i is landmark id i.
 */
import { readFileSync } from 'node:fs';
import { NUM_LANDMARKS } from '../types.ts';

const DATA_DIR = new URL('./data/', import.meta.url);

/** Edge groups of MediaPipe's face-mesh connections ('left'/'right' = the subject's side). */
export type EdgeGroup =
  | 'lips'
  | 'left_eye'
  | 'left_iris'
  | 'left_eyebrow'
  | 'right_eye'
  | 'right_eyebrow'
  | 'right_iris'
  | 'face_oval'
  | 'nose';

/** Lip contours, each 11 ids from corner 61/78 (x < 0) to corner 291/308 (x > 0). */
export interface LipContours {
  outerUpper: Uint16Array;
  outerLower: Uint16Array;
  innerUpper: Uint16Array;
  innerLower: Uint16Array;
}

interface LandmarkGroupsJson {
  edges: Record<EdgeGroup, [number, number][]>;
  procrustes_basis: [number, number][];
  contours: Record<'lips_outer_upper' | 'lips_outer_lower' | 'lips_inner_upper' | 'lips_inner_lower', number[]>;
}

function parseObj(text: string): { vertices: Float32Array; triangles: Uint16Array; uvs: Float32Array } {
  const v: number[] = [];
  const vt: number[] = [];
  const f: number[] = [];
  const uvOfVertex = new Map<number, number>();
  for (const line of text.split('\n')) {
    const p = line.trim().split(/\s+/);
    if (p[0] === 'v') v.push(Number(p[1]), Number(p[2]), Number(p[3]));
    else if (p[0] === 'vt') vt.push(Number(p[1]), Number(p[2]));
    else if (p[0] === 'f') {
      if (p.length !== 4) throw new TypeError(`canonical mesh face is not a triangle [line:${line}]`);
      for (let k = 1; k <= 3; k++) {
        const [vi, ti] = p[k]!.split('/');
        const iv = Number(vi) - 1;
        f.push(iv);
        if (ti) uvOfVertex.set(iv, Number(ti) - 1);
      }
    }
  }
  if (v.length !== NUM_LANDMARKS * 3) throw new TypeError(`canonical mesh has ${v.length / 3} vertices, expected ${NUM_LANDMARKS}`);
  const uvs = new Float32Array(NUM_LANDMARKS * 2);
  for (const [iv, it] of uvOfVertex) {
    uvs[2 * iv] = vt[2 * it]!;
    uvs[2 * iv + 1] = vt[2 * it + 1]!;
  }
  return { vertices: Float32Array.from(v), triangles: Uint16Array.from(f), uvs };
}

const mesh = parseObj(readFileSync(new URL('canonical_face_model.obj', DATA_DIR), 'utf8'));
const groups = JSON.parse(readFileSync(new URL('landmark_groups.json', DATA_DIR), 'utf8')) as LandmarkGroupsJson;

/** Neutral canonical vertices, flat [x, y, z] * 468, cm. */
export const CANONICAL_VERTICES: Float32Array = mesh.vertices;
/** Triangles, flat vertex-id triples (898 * 3), counter-clockwise seen from +z; eyes and mouth are closed over. */
export const CANONICAL_TRIANGLES: Uint16Array = mesh.triangles;
/** Texture coordinate per vertex, flat [u, v] * 468 (v up, as in the obj). */
export const CANONICAL_UVS: Float32Array = mesh.uvs;
/** Face-mesh connection edges per group, as [a, b] landmark-id pairs. */
export const LANDMARK_EDGES: Readonly<Record<EdgeGroup, readonly (readonly [number, number])[]>> = groups.edges;
/** Landmark ids of MediaPipe's weighted Procrustes basis (points that follow head pose, not expression). */
export const PROCRUSTES_IDS: Uint16Array = Uint16Array.from(groups.procrustes_basis, (p) => p[0]);
/** Weights of `PROCRUSTES_IDS` (not normalised; they sum to ~1.055). */
export const PROCRUSTES_WEIGHTS: Float32Array = Float32Array.from(groups.procrustes_basis, (p) => p[1]);
/** Ordered lip contours. */
export const LIP_CONTOURS: LipContours = {
  outerUpper: Uint16Array.from(groups.contours.lips_outer_upper),
  outerLower: Uint16Array.from(groups.contours.lips_outer_lower),
  innerUpper: Uint16Array.from(groups.contours.lips_inner_upper),
  innerLower: Uint16Array.from(groups.contours.lips_inner_lower),
};

/** Distinct landmark ids used by an edge group, ascending. */
export function groupVertexIds(group: EdgeGroup): Uint16Array {
  const ids = new Set<number>();
  for (const [a, b] of LANDMARK_EDGES[group]) ids.add(a).add(b);
  return Uint16Array.from([...ids].sort((a, b) => a - b));
}
