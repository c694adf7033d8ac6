import { createRequire } from 'node:module';
import Delaunator from 'delaunator';
import { NUM_LANDMARKS, type Landmarks2D } from '../types.ts';
import { inLandmarkPolygon } from '../util/landmarkPolygon.ts';
import { faceTopology } from './faceTopology.ts';

// The package's "types" entry is its TypeScript source, which fails this project's strict ESM checks;
// load the compiled CommonJS build and describe the one call used.
const Constrainautor = createRequire(import.meta.url)('@kninnug/constrainautor') as new (del: Delaunator<ArrayLike<number>>) => {
  constrainOne(a: number, b: number): number;
};

/** Triangle kinds: plain affine warp, the mouth interior (cavity + teeth shading), or an eye opening (lid closes over a fixed eyeball). */
export const KIND_WARP = 0;
export const KIND_MOUTH = 1;
export const KIND_EYE = 2;

/** Triangulation of a whole portrait frame, built once per reference. */
export interface WarpMesh {
  /** Vertex count: 468 landmarks first, then fixed anchors. */
  numVertices: number;
  /**
   * Reference positions of every vertex, flat `[x0, y0, ...]`, px: the landmarks plus `landmarkOffset`
   * (untangled so every triangle is positive), then the anchors.
   */
  refXY: Float32Array;
  /** Per-landmark shift (468 * 2, px) that untangles the reference's folds; added to every frame's landmarks too. */
  landmarkOffset: Float32Array;
  /** Reference triangles still folded after untangling (drawn only where they unfold). */
  foldedInReference: number;
  /** Triangles, flat `[a, b, c, ...]`, all counter-clockwise in the reference (positive signed area, y down). */
  triangles: Uint32Array;
  /** KIND_WARP or KIND_MOUTH per triangle. */
  kinds: Uint8Array;
  /** Mouth interior: for each landmark on the inner lips, its column 0..10 (78 -> 308), else -1. */
  mouthColumn: Int8Array;
  /** Mouth interior: 0 on the upper inner lip, 1 on the lower, 0.5 at the corners; per landmark. */
  mouthSide: Float32Array;
  /** Inner-lip chains (11 ids each, corner 78 -> corner 308). */
  lipUpper: number[];
  lipLower: number[];
  /** Eye openings: for each lid landmark its column 0..17 (9 per eye, corner to corner), else -1. */
  eyeColumn: Int8Array;
  /** Eye openings: 0 on the upper lid, 1 on the lower, 0.5 at the corners; per landmark. */
  eyeSide: Float32Array;
  /** Upper and lower lid chains of both eyes, concatenated (9 ids per eye), same column order. */
  lidUpper: number[];
  lidLower: number[];
  /** How freely each vertex may move to unfold a triangle: 0 for the anchors, less on the lip and lid contours, else 1. */
  mobility: Float32Array;
}

/** Signed area*2 of triangle (a, b, c) in y-down pixel coordinates; positive = counter-clockwise on screen. */
export function area2(xy: Float32Array, a: number, b: number, c: number): number {
  const ax = xy[2 * a]!, ay = xy[2 * a + 1]!;
  return (xy[2 * b]! - ax) * (xy[2 * c + 1]! - ay) - (xy[2 * c]! - ax) * (xy[2 * b + 1]! - ay);
}

/** Strip between two chains that share their end points: 2n-4 triangles, each [upper..., lower...] mixed. */
function stripTriangles(upper: number[], lower: number[]): number[] {
  const n = upper.length, out: number[] = [];
  out.push(upper[0]!, upper[1]!, lower[1]!);
  for (let i = 1; i < n - 2; i++) out.push(upper[i]!, upper[i + 1]!, lower[i]!, upper[i + 1]!, lower[i + 1]!, lower[i]!);
  out.push(upper[n - 2]!, upper[n - 1]!, lower[n - 2]!);
  return out;
}

/**
 * Orientation a strip triangle should have, from an idealised open layout (chains apart, in the
 * direction they run across the image), since a closed eye or mouth in the reference is degenerate.
 */
function orientStrip(tris: number[], upper: number[], lower: number[], dir: number): void {
  const pos = new Map<number, [number, number]>();
  upper.forEach((id, i) => pos.set(id, [i * dir, 0]));
  lower.forEach((id, i) => { if (i > 0 && i < lower.length - 1) pos.set(id, [i * dir, 1]); });
  for (let t = 0; t < tris.length; t += 3) {
    const [ax, ay] = pos.get(tris[t]!)!, [bx, by] = pos.get(tris[t + 1]!)!, [cx, cy] = pos.get(tris[t + 2]!)!;
    if ((bx - ax) * (cy - ay) - (cx - ax) * (by - ay) < 0) [tris[t + 1], tris[t + 2]] = [tris[t + 2]!, tris[t + 1]!];
  }
}

/** Area (x2, px^2) untangling grows folded and sliver triangles to, so that moderate motion does not fold them again. */
const UNTANGLE_AREA2 = 6;
/** The same for triangles with a vertex on the inner lip or lid contours. */
const CONTOUR_AREA2 = 1.5;
/** How freely landmarks of the inner lips and eyelids move while untangling, against the others' 1 (they carry the animation). */
const CONTOUR_MOBILITY = 0.25;

/**
 * Accumulate into `acc`/`cnt` the least move of a, b, c (weighted by `mobility`; 0 = fixed) that gives the triangle the
 * doubled area `want`: the position-based projection along the area's gradient. `moved` collects vertices touched for
 * the first time since `cnt` was cleared. False when the vertices coincide (no gradient).
 */
function projectArea(xy: Float32Array, a: number, b: number, c: number, want: number, mobility: Float32Array, acc: Float64Array, cnt: Float64Array, moved?: number[]): boolean {
  const ax = xy[2 * a]!, ay = xy[2 * a + 1]!, bx = xy[2 * b]!, by = xy[2 * b + 1]!, cx = xy[2 * c]!, cy = xy[2 * c + 1]!;
  const area = area2(xy, a, b, c);
  const gax = by - cy, gay = cx - bx, gbx = cy - ay, gby = ax - cx, gcx = ay - by, gcy = bx - ax;
  const ma = mobility[a]!, mb = mobility[b]!, mc = mobility[c]!;
  const g2 = ma * (gax * gax + gay * gay) + mb * (gbx * gbx + gby * gby) + mc * (gcx * gcx + gcy * gcy);
  if (g2 < 1e-9) return false;
  const k = (want - area) / g2;
  const add = (v: number, m: number, gx: number, gy: number): void => {
    if (m === 0) return;
    if (cnt[v] === 0) moved?.push(v);
    acc[2 * v] = acc[2 * v]! + k * m * gx; acc[2 * v + 1] = acc[2 * v + 1]! + k * m * gy; cnt[v] = cnt[v]! + 1;
  };
  add(a, ma, gax, gay);
  add(b, mb, gbx, gby);
  add(c, mc, gcx, gcy);
  return true;
}

/**
 * Untangle the reference's folds (the 2D projection of the mesh overlaps itself at the silhouette of a
 * turned face and where the lips roll over the inner lip contour; a closed mouth adds slivers): each folded or sliver
 * triangle's vertices are moved by the least displacement that gives it a small positive area (position-based
 * projection, averaged over the triangles that share a vertex), repeated until none is folded. Only the vertices of
 * folded triangles move, a few px at most, so the renderer can add the same shifts to every frame's landmarks
 * (the reference still maps onto itself) without moving texture away from the feature it belongs to.
 */
function untangle(lm: Float32Array, tris: number[], mobility: Float32Array): Float32Array {
  const xy = Float32Array.from(lm);
  const n = lm.length / 2;
  const acc = new Float64Array(n * 2), cnt = new Float64Array(n);
  // Triangles smaller than this (folded, or slivers that would fold at the slightest motion) are grown to it.
  const target = UNTANGLE_AREA2;
  for (let iter = 0; iter < 2000; iter++) {
    acc.fill(0); cnt.fill(0);
    let bad = 0;
    for (let t = 0; t < tris.length; t += 3) {
      const a = tris[t]!, b = tris[t + 1]!, c = tris[t + 2]!;
      const area = area2(xy, a, b, c);
      // Triangles on the lip and lid contours are only unfolded (growing them would move those contours).
      const want = mobility[a]! < 1 || mobility[b]! < 1 || mobility[c]! < 1 ? CONTOUR_AREA2 : target;
      if (area >= 0.95 * want) continue;
      bad++;
      if (!projectArea(xy, a, b, c, want, mobility, acc, cnt)) {
        // All three on one point: nudge them apart.
        acc[2 * b] = acc[2 * b]! + 0.5; acc[2 * c + 1] = acc[2 * c + 1]! + 0.5; cnt[b] = cnt[b]! + 1; cnt[c] = cnt[c]! + 1;
      }
    }
    if (bad === 0) break;
    for (let v = 0; v < n; v++) {
      const m = cnt[v]!;
      if (m === 0) continue;
      // Under-relaxed Jacobi step: neighbouring projections fight less and converge.
      const s = 0.8 / m;
      xy[2 * v] = xy[2 * v]! + s * acc[2 * v]!;
      xy[2 * v + 1] = xy[2 * v + 1]! + s * acc[2 * v + 1]!;
    }
  }
  return xy;
}

/** Fixed anchors: the frame border (every ~stepPx) and a ring ~1.6x the face oval around its centre. */
function anchorPoints(lm: Landmarks2D, oval: number[], width: number, height: number): number[] {
  const pts: number[] = [];
  const stepPx = 64;
  const nx = Math.max(1, Math.round(width / stepPx)), ny = Math.max(1, Math.round(height / stepPx));
  for (let i = 0; i < nx; i++) pts.push((i * width) / nx, 0, width - (i * width) / nx, height);
  for (let i = 0; i < ny; i++) pts.push(width, (i * height) / ny, 0, height - (i * height) / ny);
  let cx = 0, cy = 0;
  for (const id of oval) { cx += lm[2 * id]!; cy += lm[2 * id + 1]!; }
  cx /= oval.length; cy /= oval.length;
  const margin = 8, ringScale = 1.6, ringCount = 24;
  for (let k = 0; k < ringCount; k++) {
    // Ring point k follows the oval's radius in its direction, scaled out.
    const id = oval[Math.floor((k * oval.length) / ringCount)]!;
    const x = cx + ringScale * (lm[2 * id]! - cx), y = cy + ringScale * (lm[2 * id + 1]! - cy);
    if (x < margin || y < margin || x > width - margin || y > height - margin) continue;
    pts.push(x, y);
  }
  return pts;
}

/** Build the portrait's triangulation: open face mesh + eye strips + mouth strip + anchored background. */
export function buildWarpMesh(landmarks: Landmarks2D, width: number, height: number): WarpMesh {
  const topo = faceTopology();
  const lipSet = new Set([...topo.innerLipUpper, ...topo.innerLipLower]);
  const eyeSets = topo.eyes.map(([a, b]) => new Set([...a, ...b]));
  const isFill = (a: number, b: number, c: number) =>
    [lipSet, ...eyeSets].some((s) => s.has(a) && s.has(b) && s.has(c));

  const lm0 = landmarks.subarray(0, NUM_LANDMARKS * 2);
  const mesh: number[] = [];
  for (let t = 0; t < topo.triangles.length; t += 3) {
    const a = topo.triangles[t]!, b = topo.triangles[t + 1]!, c = topo.triangles[t + 2]!;
    if (!isFill(a, b, c)) mesh.push(a, b, c);
  }
  // The canonical winding is counter-clockwise seen from the viewer with y up; flip if the image says otherwise.
  let sum = 0;
  for (let t = 0; t < mesh.length; t += 3) sum += area2(lm0, mesh[t]!, mesh[t + 1]!, mesh[t + 2]!);
  if (sum < 0) for (let t = 0; t < mesh.length; t += 3) [mesh[t + 1], mesh[t + 2]] = [mesh[t + 2]!, mesh[t + 1]!];

  const landmarkMobility = new Float32Array(NUM_LANDMARKS);
  for (let i = 0; i < NUM_LANDMARKS; i++) landmarkMobility[i] = lipSet.has(i) || eyeSets.some((e) => e.has(i)) ? CONTOUR_MOBILITY : 1;
  const lm = untangle(landmarks.subarray(0, NUM_LANDMARKS * 2), mesh, landmarkMobility);
  const eyeStrips: number[] = [];
  const lidUpper: number[] = [], lidLower: number[] = [];
  for (const [c0, c1] of topo.eyes) {
    const dir = Math.sign(lm[2 * c0.at(-1)!]! - lm[2 * c0[0]!]!) || 1;
    // Upper lid = the chain with the smaller mean y; the strip orientation needs to know it.
    const meanY = (ch: number[]) => ch.reduce((s, id) => s + lm[2 * id + 1]!, 0) / ch.length;
    const [up, low] = meanY(c0) <= meanY(c1) ? [c0, c1] : [c1, c0];
    lidUpper.push(...up);
    lidLower.push(...low);
    const tris = stripTriangles(up, low);
    orientStrip(tris, up, low, dir);
    eyeStrips.push(...tris);
  }
  const mouthStrip = stripTriangles(topo.innerLipUpper, topo.innerLipLower);
  orientStrip(mouthStrip, topo.innerLipUpper, topo.innerLipLower, Math.sign(lm[2 * 308]! - lm[2 * 78]!) || 1);

  // Background: constrained Delaunay of the face oval + anchors, keeping what lies outside the oval.
  const anchors = anchorPoints(lm, topo.faceOval, width, height);
  const numVertices = NUM_LANDMARKS + anchors.length / 2;
  const refXY = new Float32Array(numVertices * 2);
  refXY.set(lm);
  refXY.set(anchors, NUM_LANDMARKS * 2);
  const outerIds = [...topo.faceOval, ...Array.from({ length: anchors.length / 2 }, (_, i) => NUM_LANDMARKS + i)];
  const coords = new Float64Array(outerIds.length * 2);
  outerIds.forEach((id, i) => { coords[2 * i] = refXY[2 * id]!; coords[2 * i + 1] = refXY[2 * id + 1]!; });
  const del = new Delaunator(coords);
  const con = new Constrainautor(del);
  const n = topo.faceOval.length;
  for (let i = 0; i < n; i++) con.constrainOne(i, (i + 1) % n);
  const outer: number[] = [];
  for (let t = 0; t < del.triangles.length; t += 3) {
    const a = outerIds[del.triangles[t]!]!, b = outerIds[del.triangles[t + 1]!]!, c = outerIds[del.triangles[t + 2]!]!;
    const mx = (refXY[2 * a]! + refXY[2 * b]! + refXY[2 * c]!) / 3, my = (refXY[2 * a + 1]! + refXY[2 * b + 1]! + refXY[2 * c + 1]!) / 3;
    if (inLandmarkPolygon(mx, my, refXY, topo.faceOval)) continue;
    if (area2(refXY, a, b, c) < 0) outer.push(a, c, b);
    else outer.push(a, b, c);
  }

  const all = [...mesh, ...outer, ...eyeStrips, ...mouthStrip];
  const kinds = new Uint8Array(all.length / 3);
  kinds.fill(KIND_EYE, (mesh.length + outer.length) / 3, (all.length - mouthStrip.length) / 3);
  kinds.fill(KIND_MOUTH, (all.length - mouthStrip.length) / 3);

  const mouthColumn = new Int8Array(NUM_LANDMARKS).fill(-1);
  const mouthSide = new Float32Array(NUM_LANDMARKS);
  topo.innerLipUpper.forEach((id, i) => { mouthColumn[id] = i; mouthSide[id] = 0; });
  topo.innerLipLower.forEach((id, i) => { mouthColumn[id] = i; mouthSide[id] = 1; });
  mouthSide[topo.innerLipUpper[0]!] = 0.5;
  mouthSide[topo.innerLipUpper.at(-1)!] = 0.5;
  const eyeColumn = new Int8Array(NUM_LANDMARKS).fill(-1);
  const eyeSide = new Float32Array(NUM_LANDMARKS);
  lidUpper.forEach((id, i) => { eyeColumn[id] = i; eyeSide[id] = 0; });
  lidLower.forEach((id, i) => { eyeColumn[id] = i; eyeSide[id] = 1; });
  for (let e = 0; e < lidUpper.length; e += 9) { eyeSide[lidUpper[e]!] = 0.5; eyeSide[lidUpper[e + 8]!] = 0.5; }
  const mobility = new Float32Array(numVertices);
  mobility.set(landmarkMobility);
  const landmarkOffset = new Float32Array(NUM_LANDMARKS * 2);
  for (let i = 0; i < landmarkOffset.length; i++) landmarkOffset[i] = lm[i]! - lm0[i]!;
  let foldedInReference = 0;
  for (let t = 0; t < all.length; t += 3) if (area2(refXY, all[t]!, all[t + 1]!, all[t + 2]!) <= 0) foldedInReference++;

  return {
    numVertices,
    refXY,
    triangles: Uint32Array.from(all),
    kinds,
    landmarkOffset,
    foldedInReference,
    mouthColumn,
    mouthSide,
    lipUpper: topo.innerLipUpper,
    lipLower: topo.innerLipLower,
    eyeColumn,
    eyeSide,
    lidUpper,
    lidLower,
    mobility,
  };
}

function onLid(eyeColumn: Int8Array, v: number): boolean {
  return v < eyeColumn.length && eyeColumn[v]! >= 0;
}

/** Area (x2, px^2) unfoldFrame restores folded warp triangles to. */
const FRAME_AREA2 = 1;

/**
 * Unfold one frame's destination positions `xy` in place: warp triangles that the animation folded (e.g. a lip
 * ring rolled over the lip's own contour as the lips seal) get a small positive area back by moving their vertices
 * a little (the projection untangle() uses; anchors stay), so the frame shows no overlap with hard, stair-stepped
 * edges. Triangles on the eyelids are left alone. `acc` (2 per vertex) and `cnt` (1 per vertex) are scratch buffers.
 * Returns the triangles still folded.
 */
export function unfoldFrame(mesh: WarpMesh, xy: Float32Array, refSign: Int8Array, acc: Float64Array, cnt: Float64Array, rounds = 24): number {
  const tris = mesh.triangles, kinds = mesh.kinds, mob = mesh.mobility, eye = mesh.eyeColumn;
  const { start, list } = vertexTriangles(mesh);
  const eligible = (t: number): boolean => {
    if (kinds[t] !== KIND_WARP || refSign[t] !== 1) return false;
    // A closing eye folds the skin at its lids by design (the lid slides over the eyeball): left as it is.
    return !onLid(eye, tris[3 * t]!) && !onLid(eye, tris[3 * t + 1]!) && !onLid(eye, tris[3 * t + 2]!);
  };
  const folded = (t: number): boolean => area2(xy, tris[3 * t]!, tris[3 * t + 1]!, tris[3 * t + 2]!) < 0.5 * FRAME_AREA2;
  let bad: number[] = [];
  for (let t = 0, n = tris.length / 3; t < n; t++) if (folded(t) && eligible(t)) bad.push(t);
  for (let r = 0; r < rounds && bad.length > 0; r++) {
    const moved: number[] = [];
    for (const t of bad) projectArea(xy, tris[3 * t]!, tris[3 * t + 1]!, tris[3 * t + 2]!, FRAME_AREA2, mob, acc, cnt, moved);
    if (moved.length === 0) break;
    const check = new Set<number>();
    for (const v of moved) {
      const m = cnt[v]!;
      xy[2 * v] = xy[2 * v]! + (0.8 / m) * acc[2 * v]!;
      xy[2 * v + 1] = xy[2 * v + 1]! + (0.8 / m) * acc[2 * v + 1]!;
      acc[2 * v] = 0; acc[2 * v + 1] = 0; cnt[v] = 0;
      for (let j = start[v]!; j < start[v + 1]!; j++) check.add(list[j]!);
    }
    // Only triangles around the moved vertices can have changed.
    bad = [];
    for (const t of check) if (folded(t) && eligible(t)) bad.push(t);
  }
  return bad.length;
}

const adjacency = new WeakMap<WarpMesh, { start: Int32Array; list: Int32Array }>();

/** Triangles around each vertex (compressed rows), built once per mesh. */
function vertexTriangles(mesh: WarpMesh): { start: Int32Array; list: Int32Array } {
  let adj = adjacency.get(mesh);
  if (adj) return adj;
  const tris = mesh.triangles, start = new Int32Array(mesh.numVertices + 1);
  for (const v of tris) start[v + 1] = start[v + 1]! + 1;
  for (let v = 0; v < mesh.numVertices; v++) start[v + 1] = start[v + 1]! + start[v]!;
  const fill = start.slice(0, -1), list = new Int32Array(tris.length);
  for (let i = 0; i < tris.length; i++) list[fill[tris[i]!]!++] = Math.floor(i / 3);
  adj = { start, list };
  adjacency.set(mesh, adj);
  return adj;
}
