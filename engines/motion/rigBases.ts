/**
 * Linear deformation bases on the canonical mesh: each is a displacement field [468 * 3] in cm per unit
 * coefficient, confined to its region with a smooth falloff. Mesh = canonical + sum(c_i * basis_i).
 */
import { CANONICAL_VERTICES, LIP_CONTOURS, groupVertexIds } from './canonicalMesh.ts';
import { NUM_LANDMARKS } from '../types.ts';

/** Coefficient slots of the face rig. */
export const RIG = {
  /** Jaw rotates down about the jaw hinge (lower lip, chin, jaw); 1 = 14 degrees. */
  jawOpen: 0,
  /** Lips narrow and protrude (/u o w/). */
  lipRound: 1,
  /** Mouth corners spread outward and back (/i e/, smile-like). */
  lipStretch: 2,
  /** Vermilion thins and rolls in toward the contact line (bilabial closure /p b m/). */
  lipPress: 3,
  /** Upper lip lifts (shows upper teeth). */
  upperLipRaise: 4,
  /** Lower lip lifts and tucks back (/f v/). */
  lowerLipRaise: 5,
  /** Subject's left upper eyelid down onto the lower lid; 1 = closed. */
  blinkLeft: 6,
  /** Subject's right upper eyelid down onto the lower lid; 1 = closed. */
  blinkRight: 7,
  /** Both brows and the lower forehead move up. */
  browRaise: 8,
  /** Inner lip contours meet at their midline; 1 closes the canonical lip gap (used for the rest pose). */
  lipSeal: 9,
} as const;

/** Number of rig coefficients. */
export const NUM_RIG_COEFFS = 10;

/** Mouth coefficients are the slots below this one. */
export const NUM_MOUTH_COEFFS = 6;

type Vec3 = [number, number, number];

const V = CANONICAL_VERTICES;
const N = NUM_LANDMARKS;
const px = (i: number): number => V[3 * i]!;
const py = (i: number): number => V[3 * i + 1]!;
const pz = (i: number): number => V[3 * i + 2]!;

/** Smooth bump: 1 at d = 0, 0 from d >= r, zero slope at both ends. */
export function falloff(d: number, r: number): number {
  if (d >= r) return 0;
  const q = 1 - (d / r) * (d / r);
  return q * q;
}

function smoothstep(e0: number, e1: number, x: number): number {
  const t = Math.max(0, Math.min(1, (x - e0) / (e1 - e0)));
  return t * t * (3 - 2 * t);
}

function dist(i: number, j: number): number {
  return Math.hypot(px(i) - px(j), py(i) - py(j), pz(i) - pz(j));
}

function insidePolygon(x: number, y: number, poly: number[]): boolean {
  let inside = false;
  for (let a = 0, b = poly.length - 1; a < poly.length; b = a++) {
    const xa = px(poly[a]!);
    const ya = py(poly[a]!);
    const xb = px(poly[b]!);
    const yb = py(poly[b]!);
    if (ya > y !== yb > y && x < ((xb - xa) * (y - ya)) / (yb - ya) + xa) inside = !inside;
  }
  return inside;
}

/** Distance (cm, in the x-y projection) from vertex i to the nearest segment of a chain. */
function chainDistance(i: number, chain: Uint16Array): number {
  let best = Infinity;
  for (let k = 0; k + 1 < chain.length; k++) {
    const ax = px(chain[k]!), ay = py(chain[k]!), dx = px(chain[k + 1]!) - ax, dy = py(chain[k + 1]!) - ay;
    const len2 = dx * dx + dy * dy;
    const t = len2 > 0 ? Math.max(0, Math.min(1, ((px(i) - ax) * dx + (py(i) - ay) * dy) / len2)) : 0;
    best = Math.min(best, Math.hypot(px(i) - ax - t * dx, py(i) - ay - t * dy));
  }
  return best;
}

/**
 * Vertices between an outer and an inner lip chain (both chains included, the 4 mouth corners excluded), and the
 * lip's inner surface: vertices that project into the mouth opening (the upper lip rolls in under its inner contour
 * near the corners: 183, 42 and their mirrors), each to the nearer inner chain. Left out, those moved with the jaw
 * like the lower lip and folded the upper lip's corners into dark spikes whenever the jaw moved far.
 */
function lipRegion(outer: Uint16Array, inner: Uint16Array, otherInner: Uint16Array): Set<number> {
  const poly = [...outer, ...[...inner].reverse()];
  const opening = [...inner, ...[...otherInner].reverse()];
  const set = new Set<number>();
  for (let i = 0; i < N; i++) {
    if (insidePolygon(px(i), py(i), poly)) set.add(i);
    else if (insidePolygon(px(i), py(i), opening) && chainDistance(i, inner) < chainDistance(i, otherInner)) set.add(i);
  }
  for (const i of [...outer, ...inner]) set.add(i);
  for (const c of CORNERS) set.delete(c);
  return set;
}

const CORNERS = [61, 291, 78, 308];
/** Upper-lip vertex ids. */
export const UPPER_LIP: ReadonlySet<number> = lipRegion(LIP_CONTOURS.outerUpper, LIP_CONTOURS.innerUpper, LIP_CONTOURS.innerLower);
/** Lower-lip vertex ids. */
export const LOWER_LIP: ReadonlySet<number> = lipRegion(LIP_CONTOURS.outerLower, LIP_CONTOURS.innerLower, LIP_CONTOURS.innerUpper);
const LIPS = new Set<number>([...UPPER_LIP, ...LOWER_LIP, ...CORNERS]);
const Y_CORNER = py(61);
const X_CORNER = px(291);

/** Upper and lower lid chains, corner to corner, of each eye (subject's side). */
export const EYELIDS = {
  left: { upper: [263, 466, 388, 387, 386, 385, 384, 398, 362], lower: [263, 249, 390, 373, 374, 380, 381, 382, 362] },
  right: { upper: [33, 246, 161, 160, 159, 158, 157, 173, 133], lower: [33, 7, 163, 144, 145, 153, 154, 155, 133] },
} as const;

/**
 * Spread core displacements to nearby vertices: each allowed vertex within `radius` cm of the core gets the
 * displacement of its nearest core vertex times `falloff(distance, radius)`.
 */
function extend(core: Map<number, Vec3>, radius: number, allow: (i: number) => boolean): Float32Array {
  const out = new Float32Array(N * 3);
  for (let i = 0; i < N; i++) {
    const own = core.get(i);
    if (own) {
      out.set(own, 3 * i);
      continue;
    }
    if (!allow(i)) continue;
    let best = Infinity;
    let nearest: Vec3 | undefined;
    for (const [j, d] of core) {
      const dd = dist(i, j);
      if (dd < best) {
        best = dd;
        nearest = d;
      }
    }
    const w = falloff(best, radius);
    if (nearest && w > 0) out.set([nearest[0] * w, nearest[1] * w, nearest[2] * w], 3 * i);
  }
  return out;
}

/** Contact-line height (cm) under the lips at x: midline between the inner contours. */
function contactY(x: number): number {
  const u = LIP_CONTOURS.innerUpper;
  const l = LIP_CONTOURS.innerLower;
  let best = 0;
  let bestD = Infinity;
  for (let k = 0; k < u.length; k++) {
    const d = Math.abs(px(u[k]!) - x);
    if (d < bestD) {
      bestD = d;
      best = 0.5 * (py(u[k]!) + py(l[k]!));
    }
  }
  return best;
}

function jawBasis(): Float32Array {
  const out = new Float32Array(N * 3);
  const theta = (14 * Math.PI) / 180;
  const hy = 0; // hinge axis (along x) at the jaw joints, level with the bottom of the nose and deep behind the face, cm
  const hz = -7; // (a hinge close behind the lips would swing the chin back more than down: sheared lips on a turned face)
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  for (let i = 0; i < N; i++) {
    let w: number;
    if (UPPER_LIP.has(i)) w = 0;
    else if (LOWER_LIP.has(i)) w = 0.45 + 0.55 * smoothstep(X_CORNER, 1.1, Math.abs(px(i))); // corners stretch, centre follows the jaw
    else if (i === 61 || i === 291) w = 0.3;
    else if (i === 78 || i === 308) w = 0.4;
    else {
      if (py(i) > Y_CORNER + 0.2) continue;
      let dLip = Infinity;
      for (const j of LOWER_LIP) dLip = Math.min(dLip, dist(i, j));
      w = Math.max(smoothstep(0, 1.6, Y_CORNER - py(i)), 0.8 * falloff(dLip, 1.5));
    }
    const ry = py(i) - hy;
    const rz = pz(i) - hz;
    out[3 * i + 1] = w * (ry * c - rz * s - ry);
    out[3 * i + 2] = w * (ry * s + rz * c - rz);
  }
  return out;
}

function lipWeights(radius: number): Float32Array {
  const w = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    if (LIPS.has(i)) {
      w[i] = 1;
      continue;
    }
    let d = Infinity;
    for (const j of LIPS) d = Math.min(d, dist(i, j));
    w[i] = falloff(d, radius);
  }
  return w;
}

function roundBasis(): Float32Array {
  const w = lipWeights(1.3);
  const out = new Float32Array(N * 3);
  for (let i = 0; i < N; i++) {
    out[3 * i] = -0.38 * px(i) * w[i]!;
    out[3 * i + 2] = 0.5 * w[i]!;
  }
  return out;
}

function stretchBasis(): Float32Array {
  const w = lipWeights(1.5);
  const out = new Float32Array(N * 3);
  for (let i = 0; i < N; i++) {
    const side = Math.min(1, Math.abs(px(i)) / X_CORNER);
    out[3 * i] = 0.17 * px(i) * w[i]!;
    out[3 * i + 1] = 0.12 * side * w[i]!;
    out[3 * i + 2] = -0.2 * side * w[i]!;
  }
  return out;
}

function sealBasis(): Float32Array {
  const core = new Map<number, Vec3>();
  const u = LIP_CONTOURS.innerUpper;
  const l = LIP_CONTOURS.innerLower;
  for (let k = 1; k < u.length - 1; k++) {
    const a = u[k]!;
    const b = l[k]!;
    const my = 0.5 * (py(a) + py(b));
    const mz = 0.5 * (pz(a) + pz(b));
    const mx = 0.5 * (px(a) + px(b));
    core.set(a, [mx - px(a), my - py(a), mz - pz(a)]);
    core.set(b, [mx - px(b), my - py(b), mz - pz(b)]);
  }
  return extend(core, 0.9, (i) => UPPER_LIP.has(i) || LOWER_LIP.has(i));
}

/** Height (cm) of the inner upper or lower lip contour at x (nearest contour column). */
function innerY(x: number, upper: boolean): number {
  const chain = upper ? LIP_CONTOURS.innerUpper : LIP_CONTOURS.innerLower;
  let best = 0;
  let bestD = Infinity;
  for (const i of chain) {
    const d = Math.abs(px(i) - x);
    if (d < bestD) {
      bestD = d;
      best = py(i);
    }
  }
  return best;
}

function pressBasis(): Float32Array {
  // The vermilion thins toward the inner contour, which stays: the lip gap is FaceRig's closure's business.
  const core = new Map<number, Vec3>();
  for (const i of UPPER_LIP) core.set(i, [0, -0.35 * (py(i) - innerY(px(i), true)), -0.15]);
  for (const i of LOWER_LIP) core.set(i, [0, -0.35 * (py(i) - innerY(px(i), false)), -0.15]);
  return extend(core, 0.8, (i) => !LIPS.has(i));
}

function upperRaiseBasis(): Float32Array {
  const core = new Map<number, Vec3>();
  for (const i of UPPER_LIP) core.set(i, [0, 0.3, 0.05]);
  return extend(core, 1.0, (i) => !LOWER_LIP.has(i) && py(i) > contactY(px(i)));
}

function lowerRaiseBasis(): Float32Array {
  const core = new Map<number, Vec3>();
  for (const i of LOWER_LIP) {
    const t = 0.4 + 0.6 * smoothstep(X_CORNER, 1.1, Math.abs(px(i)));
    core.set(i, [0, 0.25 * t, -0.2 * t]);
  }
  return extend(core, 0.8, (i) => !UPPER_LIP.has(i) && py(i) < Y_CORNER);
}

function blinkBasis(lids: { readonly upper: readonly number[]; readonly lower: readonly number[] }): Float32Array {
  const core = new Map<number, Vec3>();
  const last = lids.upper.length - 1;
  for (let k = 1; k < last; k++) {
    const a = lids.upper[k]!;
    const b = lids.lower[k]!;
    core.set(a, [px(b) - px(a), py(b) - py(a), pz(b) - pz(a)]);
  }
  const fixed = new Set<number>([...lids.lower, lids.upper[0]!, lids.upper[last]!]);
  const yLow = Math.max(...lids.lower.map(py));
  // Lid skin above the margin follows it; the lower lid, the eye corners and anything below stay.
  return extend(core, 0.9, (i) => !fixed.has(i) && py(i) > yLow);
}

function browBasis(): Float32Array {
  const core = new Map<number, Vec3>();
  for (const i of [...groupVertexIds('left_eyebrow'), ...groupVertexIds('right_eyebrow')]) core.set(i, [0, 0.45, 0.05]);
  const lidTop = Math.max(...[...EYELIDS.left.upper, ...EYELIDS.right.upper].map(py));
  return extend(core, 2.5, (i) => py(i) > lidTop + 0.3);
}

/**
 * Lower lip dropping further than the jaw carries it (lip eversion in wide vowels): the jaw basis's lower-lip
 * displacement, spread to the skin below the mouth corners; corners and upper lip stay. FaceRig adds it to
 * `jawOpen` per portrait so that a full jaw opens any portrait's lips clearly (not a RIG slot).
 */
function lipDropBasis(jaw: Float32Array): Float32Array {
  const core = new Map<number, Vec3>();
  for (const i of LOWER_LIP) core.set(i, [jaw[3 * i]!, jaw[3 * i + 1]!, jaw[3 * i + 2]!]);
  const allow = (i: number): boolean => !UPPER_LIP.has(i) && !CORNERS.includes(i) && py(i) < Y_CORNER;
  const out = extend(core, 1.2, allow);
  // The chin comes along with the lip (the lip rides on the jaw): below the lower lip, between the mouth corners,
  // the skin takes the lip centre's displacement, fading out toward the jaw line's sides, so that a large drop
  // stretches the cheeks instead of squashing the lower lip into the chin.
  const c = 14;
  for (let i = 0; i < N; i++) {
    if (!allow(i) || LOWER_LIP.has(i)) continue;
    const w = (1 - smoothstep(0.9 * X_CORNER, X_CORNER + 2.5, Math.abs(px(i)))) * smoothstep(0.6, 1.8, Y_CORNER - py(i));
    for (let d = 0; d < 3; d++) out[3 * i + d] = out[3 * i + d]! + w * (jaw[3 * c + d]! - out[3 * i + d]!);
  }
  return out;
}

/**
 * Bilabial closure field (used by FaceRig for `lipPress`, not a linear basis): each vertex follows the gap between
 * the inner lip contours at its x (interpolated between the contour columns) with weight `lower` (lower lip and the
 * skin below it, toward the upper lip) or `upper` (upper lip and the skin above, toward the lower lip). The inner
 * contour vertices have weight 1 on their own side, so moving the lower lip by `lowerShare` and the upper lip by
 * 1 - `lowerShare` of a gap closes it whatever opened it (jaw, lip drop, lip raises).
 */
export interface LipClosureField {
  /** Inner upper / lower contour ids, corner to corner (columns). */
  readonly upper: Uint16Array;
  readonly lower: Uint16Array;
  /** Per vertex: left column index and interpolation weight toward the next column. */
  readonly column: Uint8Array;
  readonly frac: Float32Array;
  /** Per vertex: weight of following the gap from below (lower lip) and from above (upper lip), 0..1. */
  readonly lowerWeight: Float32Array;
  readonly upperWeight: Float32Array;
  /** Share of the closure done by the lower lip (the jaw-borne lip moves most in /p b m/). */
  readonly lowerShare: number;
}

function lipClosureField(): LipClosureField {
  const upper = LIP_CONTOURS.innerUpper;
  const lower = LIP_CONTOURS.innerLower;
  const column = new Uint8Array(N);
  const frac = new Float32Array(N);
  const lowerWeight = new Float32Array(N);
  const upperWeight = new Float32Array(N);
  const last = upper.length - 1;
  for (let i = 0; i < N; i++) {
    const x = px(i);
    let k = 0;
    while (k < last - 1 && px(upper[k + 1]!) <= x) k++;
    const x0 = px(upper[k]!), x1 = px(upper[k + 1]!);
    column[i] = k;
    frac[i] = x1 > x0 ? Math.max(0, Math.min(1, (x - x0) / (x1 - x0))) : 0;
    if (CORNERS.includes(i)) continue;
    if (LOWER_LIP.has(i)) lowerWeight[i] = 1;
    else if (UPPER_LIP.has(i)) upperWeight[i] = 1;
    else if (py(i) < contactY(x)) {
      let d = Infinity;
      for (const j of LOWER_LIP) d = Math.min(d, dist(i, j));
      lowerWeight[i] = falloff(d, 1.2);
    } else {
      let d = Infinity;
      for (const j of UPPER_LIP) d = Math.min(d, dist(i, j));
      upperWeight[i] = falloff(d, 0.8);
    }
  }
  return { upper, lower, column, frac, lowerWeight, upperWeight, lowerShare: 0.7 };
}

/** The bilabial closure field of the canonical mesh (see LipClosureField). */
export const LIP_CLOSURE: LipClosureField = lipClosureField();

const JAW_BASIS = jawBasis();

/** The rig's bases in `RIG` slot order, each [468 * 3] cm per unit coefficient. Built once at import. */
export const RIG_BASES: readonly Float32Array[] = [
  JAW_BASIS,
  roundBasis(),
  stretchBasis(),
  pressBasis(),
  upperRaiseBasis(),
  lowerRaiseBasis(),
  blinkBasis(EYELIDS.left),
  blinkBasis(EYELIDS.right),
  browBasis(),
  sealBasis(),
];

/** Extra lower-lip drop per unit of FaceRig's per-portrait lip-drop gain, [468 * 3] cm (see lipDropBasis). */
export const LIP_DROP_BASIS: Float32Array = lipDropBasis(JAW_BASIS);
