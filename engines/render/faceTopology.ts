import { readFileSync } from 'node:fs';

/** Canonical MediaPipe face-mesh topology and the contours the warp renderer needs (0-based landmark ids). */
export interface FaceTopology {
  /** The canonical mesh's 898 triangles, flat `[a0, b0, c0, ...]`. */
  triangles: Uint16Array;
  /** Face oval, ordered around the loop (36 ids); the mesh's only open boundary. */
  faceOval: number[];
  /** Inner lip chains, both from corner 78 to corner 308 (11 ids each). */
  innerLipUpper: number[];
  innerLipLower: number[];
  /** Each eye's two lid chains from one corner to the other (9 ids each); which lid is which is not assumed. */
  eyes: [number[], number[]][];
}

const DATA = new URL('../motion/data/', import.meta.url);

interface LandmarkGroups {
  edges: Record<string, [number, number][]>;
  contours: Record<string, number[]>;
}

let cached: FaceTopology | undefined;

/** Load (once) the canonical topology from engines/motion/data. */
export function faceTopology(): FaceTopology {
  if (cached) return cached;
  const obj = readFileSync(new URL('canonical_face_model.obj', DATA), 'utf8');
  const tris: number[] = [];
  for (const line of obj.split('\n')) {
    if (!line.startsWith('f ')) continue;
    const ids = line.trim().split(/\s+/).slice(1).map((tok) => Number.parseInt(tok.split('/')[0]!, 10) - 1);
    if (ids.length !== 3) throw new Error(`canonical mesh face is not a triangle [line:${line}]`);
    tris.push(...ids);
  }
  const groups = JSON.parse(readFileSync(new URL('landmark_groups.json', DATA), 'utf8')) as LandmarkGroups;
  cached = {
    triangles: Uint16Array.from(tris),
    faceOval: orderLoop(groups.edges['face_oval']!),
    innerLipUpper: groups.contours['lips_inner_upper']!,
    innerLipLower: groups.contours['lips_inner_lower']!,
    eyes: [splitChains(groups.edges['right_eye']!), splitChains(groups.edges['left_eye']!)],
  };
  return cached;
}

function adjacency(edges: [number, number][]): Map<number, number[]> {
  const adj = new Map<number, number[]>();
  for (const [a, b] of edges) {
    adj.set(a, [...(adj.get(a) ?? []), b]);
    adj.set(b, [...(adj.get(b) ?? []), a]);
  }
  return adj;
}

/** Closed edge loop -> its vertices in order. */
function orderLoop(edges: [number, number][]): number[] {
  const adj = adjacency(edges);
  const start = edges[0]![0];
  const loop = [start];
  let prev = -1, cur = start;
  for (;;) {
    const next = adj.get(cur)!.find((n) => n !== prev)!;
    if (next === start) break;
    loop.push(next);
    prev = cur;
    cur = next;
  }
  return loop;
}

/** Closed eye contour -> its two chains between the corners, each corner to corner. */
function splitChains(edges: [number, number][]): [number[], number[]] {
  const adj = adjacency(edges);
  const loop = orderLoop(edges);
  // The corners are the two contour points the edge list starts chains from (first vertex of edge 0 and the far end).
  const a = edges[0]![0];
  const walk = (first: number): number[] => {
    const chain = [a, first];
    while (chain.length <= loop.length / 2) {
      const cur = chain[chain.length - 1]!, prev = chain[chain.length - 2]!;
      chain.push(adj.get(cur)!.find((n) => n !== prev)!);
    }
    return chain;
  };
  const [n0, n1] = adj.get(a)!;
  return [walk(n0!), walk(n1!)];
}
