import { NUM_LANDMARKS, type ReferencePortrait, type Renderer, type RenderRequest, type RgbaImage } from '../types.ts';
import { MouthPalette, referenceTeeth, sealedLips, skinTone, type SealedLips } from './mouthInterior.ts';
import { rasterizeTriangle } from './rasterizeTriangle.ts';
import { area2, buildWarpMesh, KIND_EYE, KIND_MOUTH, KIND_WARP, unfoldFrame, type WarpMesh } from './warpMesh.ts';

/** What one rendered frame needed. */
export interface WarpFrameStats {
  /** Skin/background triangles flipped or collapsed in this frame (not drawn; neighbours cover them). */
  flipped: number;
  /** Eye and mouth opening triangles collapsed in this frame (shut lids or lips; expected). */
  collapsed: number;
  /** Triangles drawn. */
  drawn: number;
}

/** Per-portrait state, built once by prepare(). */
interface PreparedWarp {
  reference: ReferencePortrait;
  /** What the warp samples: the reference image, with its mouth region blended toward `sealed` as the lips seal. */
  tex: RgbaImage;
  /** The reference's mouth region painted as closed lips (undefined when its lips are closed already). */
  sealed: SealedLips | undefined;
  /** Seal amount `tex` currently holds, 0 (the reference) .. 1 (sealed lips). */
  sealApplied: number;
  mesh: WarpMesh;
  /** Destination vertex positions; the anchors (after the 468 landmarks) never change. */
  dstXY: Float32Array;
  /** Sign of each triangle's reference area: 1, -1, or 0 when degenerate. */
  refSign: Int8Array;
  palette: MouthPalette;
  /** Mouth interior per-vertex attributes, refreshed each frame for the 22 inner-lip landmarks. */
  gapDst: Float32Array;
  gapRef: Float32Array;
  /** Eye openings, per lid column (18): gap this frame and in the reference (px), closure 0..1. */
  eyeGapDst: Float32Array;
  eyeGapRef: Float32Array;
  eyeClosure: Float32Array;
  /** Lash band below the upper lid margin that travels with the lid as it closes, px. */
  lashPx: number;
  /** Unit vector across the reference's mouth from the lower lip toward the upper (image px). */
  upX: number;
  upY: number;
  /** Scratch of unfoldFrame (2 and 1 per vertex). */
  unfoldAcc: Float64Array;
  unfoldCnt: Float64Array;
}

const EPS_AREA = 1e-3;
/** Mean lip gap against the reference's below which the lips count as sealing (SEAL_OPEN) and as sealed (SEAL_SHUT). */
const SEAL_OPEN = 0.45;
const SEAL_SHUT = 0.15;
/** Samples per B-spline piece of the inner-lip curves, and samples per curve (11 contour points, one piece each). */
const CURVE_STEPS = 4;
const CURVE_POINTS = 11 * CURVE_STEPS + 1;
/** How far outside the inner lip contour (reference px) the lip colour that edges an open mouth is taken. */
const LIP_EDGE_PX = 1.5;

/** Lid columns per eye (warpMesh: corner, 7 columns, corner). */
const EYE_COLUMNS = 9;

/**
 * CPU renderer: warps the reference portrait along the animated landmarks by piecewise-affine
 * mapping over a fixed triangulation (face mesh, eyes, mouth, anchored background), and paints an
 * open mouth's interior (cavity, upper teeth) where the reference has none.
 */
export class WarpRenderer implements Renderer {
  readonly name = 'warp';
  readonly maxBatch = 8;
  readonly temporalContext = 0;
  private readonly prepared = new Map<string, PreparedWarp>();
  /** Stats of the most recent frame. */
  lastFrame: WarpFrameStats = { flipped: 0, collapsed: 0, drawn: 0 };

  // Current triangle's state, read by the span shaders (kept in fields so spans need no closures).
  private cur!: PreparedWarp;
  private out!: Uint8Array;
  private ox = 0; private oy = 0;
  private u0 = 0; private ux = 0; private uy = 0;
  private v0 = 0; private vx = 0; private vy = 0;
  private readonly attr = new Float64Array(8 * 3); // mouth/eye attributes: value at (ox,oy), d/dx, d/dy
  private readonly vtx = new Float64Array(8 * 3); // the same attributes at the triangle's 3 vertices
  private teethPx = 0;
  private seal = 0;
  /** Share of the reference's own opening still there to warp this frame (1, falling to 0 as the seal paints it over). */
  private ownInterior = 1;
  /** This frame's iris shift (reference px) at the middle of each eye opening; 0 keeps the portrait's gaze. */
  private gazeDx = 0;
  private gazeDy = 0;
  private mouthWidthPx = 1;
  private readonly rgb = new Float32Array(3);
  private readonly tmp = new Uint8Array(4);
  private readonly curve = new Float64Array(2 * CURVE_POINTS * 2);
  private readonly curveRange = new Int32Array(4);
  private curveCx = 0;
  private curveCy = 0;
  /** Per curve segment: a vector pointing to the mouth's side of it (set with the curve, once a frame). */
  private readonly curveInside = new Float64Array(2 * CURVE_POINTS * 2);
  private readonly seamMid = new Float64Array(2 * 11);
  private readonly copySpan = (y: number, x0: number, x1: number): void => {
    const w = this.cur.tex.width, i0 = (y * w + x0) * 4, i1 = (y * w + x1) * 4;
    this.out.set(this.cur.tex.data.subarray(i0, i1), i0);
  };
  private readonly warpSpan = (y: number, x0: number, x1: number): void => this.shadeWarp(y, x0, x1);
  private readonly mouthSpan = (y: number, x0: number, x1: number): void => this.shadeMouth(y, x0, x1);
  private readonly eyeSpan = (y: number, x0: number, x1: number): void => this.shadeEye(y, x0, x1);

  /** Build the triangulation and mouth palette of a portrait. Idempotent per id. */
  async prepare(reference: ReferencePortrait): Promise<void> {
    if (this.prepared.has(reference.id)) return;
    const { width, height, data } = reference.image;
    if (data.length !== width * height * 4) throw new TypeError(`reference image size mismatch [id:${reference.id}]`);
    if (reference.landmarks.length < NUM_LANDMARKS * 2) throw new TypeError(`reference needs ${NUM_LANDMARKS} landmarks [id:${reference.id}]`);
    const mesh = buildWarpMesh(reference.landmarks, width, height);
    const nTri = mesh.triangles.length / 3;
    const refSign = new Int8Array(nTri);
    for (let t = 0; t < nTri; t++) {
      const a = area2(mesh.refXY, mesh.triangles[3 * t]!, mesh.triangles[3 * t + 1]!, mesh.triangles[3 * t + 2]!);
      refSign[t] = a > EPS_AREA ? 1 : a < -EPS_AREA ? -1 : 0;
    }
    const eyeGapRef = Float32Array.from(mesh.lidUpper, (id, i) => dist(mesh.refXY, id, mesh.lidLower[i]!));
    const tex: RgbaImage = { width, height, data: Uint8Array.from(data) };
    this.prepared.set(reference.id, {
      reference,
      tex,
      sealed: sealedLips(reference.image, mesh),
      sealApplied: 0,
      mesh,
      dstXY: Float32Array.from(mesh.refXY),
      refSign,
      palette: new MouthPalette(skinTone(reference.image, reference.landmarks), referenceTeeth(reference.image, mesh)),
      gapDst: new Float32Array(mesh.lipUpper.length),
      gapRef: lipGaps(mesh.refXY, mesh.lipUpper, mesh.lipLower, new Float32Array(mesh.lipUpper.length)),
      eyeGapDst: new Float32Array(mesh.lidUpper.length),
      eyeGapRef,
      eyeClosure: new Float32Array(mesh.lidUpper.length),
      lashPx: Math.max(1.5, 0.25 * Math.max(...eyeGapRef)),
      ...mouthUp(mesh.refXY, mesh.lipUpper[0]!, mesh.lipUpper.at(-1)!),
      unfoldAcc: new Float64Array(mesh.numVertices * 2),
      unfoldCnt: new Float64Array(mesh.numVertices),
    });
  }

  /** Render each request into a new RGBA frame of the reference's size. */
  async render(batch: RenderRequest[]): Promise<RgbaImage[]> {
    return batch.map((req) => {
      const p = this.get(req.referenceId);
      const out: RgbaImage = { width: p.reference.image.width, height: p.reference.image.height, data: new Uint8Array(p.reference.image.data.length) };
      this.renderInto(req, out);
      return out;
    });
  }

  /** Render one frame into a caller-owned buffer of the reference's size (every pixel is written). */
  renderInto(req: RenderRequest, out: RgbaImage): WarpFrameStats {
    const p = this.get(req.referenceId);
    const { width, height } = p.reference.image;
    if (out.width !== width || out.height !== height || out.data.length !== width * height * 4) {
      throw new TypeError(`output must be ${width}x${height} RGBA [referenceId:${req.referenceId}]`);
    }
    if (req.landmarks.length < NUM_LANDMARKS * 2) throw new TypeError(`request needs ${NUM_LANDMARKS} landmarks [frameIndex:${req.frameIndex}]`);
    this.cur = p;
    this.out = out.data;
    const { mesh, dstXY, refSign } = p;
    const off = mesh.landmarkOffset, lm = req.landmarks;
    for (let i = 0; i < NUM_LANDMARKS * 2; i++) dstXY[i] = lm[i]! + off[i]!;
    unfoldFrame(mesh, dstXY, refSign, p.unfoldAcc, p.unfoldCnt);
    this.updateMouth(p);
    this.updateLipCurves(p);
    this.updateEyes(p);
    this.setGaze(p, req.gaze);
    const gazing = this.gazeDx !== 0 || this.gazeDy !== 0;
    const refXY = mesh.refXY, tris = mesh.triangles;
    let flipped = 0, collapsed = 0, drawn = 0;
    for (let t = 0, n = tris.length / 3; t < n; t++) {
      const a = tris[3 * t]!, b = tris[3 * t + 1]!, c = tris[3 * t + 2]!;
      const dArea = area2(dstXY, a, b, c);
      // Only positively oriented triangles are drawn: with the frame border fixed, the positive ones
      // cover every pixel even where a fold happened (folded ones are covered by their neighbours).
      if (dArea <= EPS_AREA) {
        if (refSign[t] === 1) { if (mesh.kinds[t] === KIND_WARP) flipped++; else collapsed++; }
        continue;
      }
      drawn++;
      const ax = dstXY[2 * a]!, ay = dstXY[2 * a + 1]!, bx = dstXY[2 * b]!, by = dstXY[2 * b + 1]!, cx = dstXY[2 * c]!, cy = dstXY[2 * c + 1]!;
      const kind = mesh.kinds[t]!;
      const same = ax === refXY[2 * a] && ay === refXY[2 * a + 1] && bx === refXY[2 * b] && by === refXY[2 * b + 1] && cx === refXY[2 * c] && cy === refXY[2 * c + 1];
      if (same && kind !== KIND_MOUTH && !(gazing && kind === KIND_EYE)) {
        // Unmoved: the reference's own pixels.
        rasterizeTriangle(ax, ay, bx, by, cx, cy, width, height, this.copySpan);
        continue;
      }
      // A triangle collapsed in the reference (a shut eye or mouth strip) still maps continuously
      // onto its neighbours' texture: the affine map is built from the destination side.
      this.setAffine(dArea, ax, ay, bx, by, cx, cy, refXY, a, b, c);
      if (kind === KIND_MOUTH) {
        this.setMouthAttributes(p, a, b, c);
        this.interpolate(8, dArea, ax, ay, bx, by, cx, cy);
        this.setLipEdges(p, a, b, c);
        rasterizeTriangle(ax, ay, bx, by, cx, cy, width, height, this.mouthSpan);
      } else if (kind === KIND_EYE && (this.setEyeAttributes(p, a, b, c) || gazing)) {
        this.interpolate(6, dArea, ax, ay, bx, by, cx, cy);
        rasterizeTriangle(ax, ay, bx, by, cx, cy, width, height, this.eyeSpan);
      } else {
        rasterizeTriangle(ax, ay, bx, by, cx, cy, width, height, this.warpSpan);
      }
    }
    if (this.seal > 0) this.drawSeam(p, width, height);
    this.lastFrame = { flipped, collapsed, drawn };
    return this.lastFrame;
  }

  /**
   * Lips sealed over the reference's opening meet in a soft, slightly dark line (darkest toward the corners, fading
   * at their tips), drawn over the contact of the inner lip contours where they touch; it also hides the hard edge
   * where the upper and lower lip textures meet.
   */
  private drawSeam(p: PreparedWarp, width: number, height: number): void {
    const { lipUpper, lipLower } = p.mesh, xy = p.dstXY, out = this.out, mid = this.seamMid, n = lipUpper.length;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (let i = 0; i < n; i++) {
      const mx = (mid[2 * i] = (xy[2 * lipUpper[i]!]! + xy[2 * lipLower[i]!]!) / 2);
      const my = (mid[2 * i + 1] = (xy[2 * lipUpper[i]! + 1]! + xy[2 * lipLower[i]! + 1]!) / 2);
      x0 = Math.min(x0, mx); x1 = Math.max(x1, mx); y0 = Math.min(y0, my); y1 = Math.max(y1, my);
    }
    const xa = Math.max(0, Math.floor(x0 - 2)), xb = Math.min(width - 1, Math.ceil(x1 + 2));
    const ya = Math.max(0, Math.floor(y0 - 2)), yb = Math.min(height - 1, Math.ceil(y1 + 2));
    for (let y = ya; y <= yb; y++) {
      for (let x = xa; x <= xb; x++) {
        const px = x + 0.5, py = y + 0.5;
        let best = 4, at = 0;
        for (let i = 0; i + 1 < n; i++) {
          const ax = mid[2 * i]!, ay = mid[2 * i + 1]!, dx = mid[2 * i + 2]! - ax, dy = mid[2 * i + 3]! - ay;
          const len2 = dx * dx + dy * dy;
          const u = len2 > 0 ? clamp01(((px - ax) * dx + (py - ay) * dy) / len2) : 0;
          const ex = px - ax - u * dx, ey = py - ay - u * dy, d2 = ex * ex + ey * ey;
          if (d2 < best) { best = d2; at = i + u; }
        }
        if (best >= 4) continue;
        const col = Math.min(n - 2, Math.floor(at)), f = at - col;
        const gap = p.gapDst[col]! * (1 - f) + p.gapDst[col + 1]! * f;
        const e = (2 * at) / (n - 1) - 1;
        const k = this.seal * clamp01(1.5 - gap) * (0.09 + 0.11 * e * e) * clamp01((1 - Math.abs(e)) * 8) * Math.exp(-best / 2.5);
        if (k <= 0.004) continue;
        const o = (y * width + x) * 4;
        out[o] = out[o]! * (1 - k); out[o + 1] = out[o + 1]! * (1 - 1.1 * k); out[o + 2] = out[o + 2]! * (1 - 1.1 * k);
      }
    }
  }

  /** Drop a portrait's prepared state. */
  release(referenceId: string): void {
    this.prepared.delete(referenceId);
  }

  async dispose(): Promise<void> {
    this.prepared.clear();
  }

  private get(id: string): PreparedWarp {
    const p = this.prepared.get(id);
    if (!p) throw new Error(`reference not prepared [referenceId:${id}]`);
    return p;
  }

  /** Affine map from destination pixels to reference pixels for triangle (a, b, c). */
  private setAffine(dArea: number, ax: number, ay: number, bx: number, by: number, cx: number, cy: number, refXY: Float32Array, a: number, b: number, c: number): void {
    const e1x = bx - ax, e1y = by - ay, e2x = cx - ax, e2y = cy - ay, inv = 1 / dArea;
    const ra = refXY[2 * a]!, rb = refXY[2 * b]!, rc = refXY[2 * c]!;
    const sa = refXY[2 * a + 1]!, sb = refXY[2 * b + 1]!, sc = refXY[2 * c + 1]!;
    this.ox = ax; this.oy = ay;
    this.u0 = ra; this.ux = ((rb - ra) * e2y - (rc - ra) * e1y) * inv; this.uy = (e1x * (rc - ra) - e2x * (rb - ra)) * inv;
    this.v0 = sa; this.vx = ((sb - sa) * e2y - (sc - sa) * e1y) * inv; this.vy = (e1x * (sc - sa) - e2x * (sb - sa)) * inv;
  }

  /** Bilinear sample of the reference at continuous point (u, v) (pixel centres at +0.5), into rgb. */
  private sample(u: number, v: number, dst: Uint8Array, o: number): void {
    const img = this.cur.tex, w = img.width, h = img.height, src = img.data;
    let fx = u - 0.5, fy = v - 0.5;
    if (fx < 0) fx = 0; else if (fx > w - 1) fx = w - 1;
    if (fy < 0) fy = 0; else if (fy > h - 1) fy = h - 1;
    const x0 = fx | 0, y0 = fy | 0;
    const ax = fx - x0, ay = fy - y0;
    const i00 = (y0 * w + x0) * 4;
    const dx = x0 + 1 < w ? 4 : 0, dy = y0 + 1 < h ? w * 4 : 0;
    const w00 = (1 - ax) * (1 - ay), w01 = ax * (1 - ay), w10 = (1 - ax) * ay, w11 = ax * ay;
    dst[o] = src[i00]! * w00 + src[i00 + dx]! * w01 + src[i00 + dy]! * w10 + src[i00 + dy + dx]! * w11 + 0.5;
    dst[o + 1] = src[i00 + 1]! * w00 + src[i00 + dx + 1]! * w01 + src[i00 + dy + 1]! * w10 + src[i00 + dy + dx + 1]! * w11 + 0.5;
    dst[o + 2] = src[i00 + 2]! * w00 + src[i00 + dx + 2]! * w01 + src[i00 + dy + 2]! * w10 + src[i00 + dy + dx + 2]! * w11 + 0.5;
    dst[o + 3] = 255;
  }

  /** Plain warp of a span: bilinear sampling with 8-bit integer weights (the hot loop of every frame). */
  private shadeWarp(y: number, x0: number, x1: number): void {
    const tex = this.cur.tex, w = tex.width, src = tex.data, out = this.out;
    const maxX = w - 1, maxY = tex.height - 1, row = w * 4;
    const px = x0 + 0.5 - this.ox, py = y + 0.5 - this.oy;
    // Pixel centres at +0.5: sample coordinates are shifted by half a pixel.
    let u = this.u0 + this.ux * px + this.uy * py - 0.5, v = this.v0 + this.vx * px + this.vy * py - 0.5;
    const dudx = this.ux, dvdx = this.vx;
    for (let x = x0, o = (y * w + x0) * 4; x < x1; x++, o += 4, u += dudx, v += dvdx) {
      const fx = u < 0 ? 0 : u > maxX ? maxX : u, fy = v < 0 ? 0 : v > maxY ? maxY : v;
      const xi = fx | 0, yi = fy | 0;
      const ax = ((fx - xi) * 256 + 0.5) | 0, ay = ((fy - yi) * 256 + 0.5) | 0;
      const i00 = (yi * w + xi) * 4, i01 = i00 + (xi < maxX ? 4 : 0), i10 = i00 + (yi < maxY ? row : 0), i11 = i10 + (i01 - i00);
      const w00 = (256 - ax) * (256 - ay), w01 = ax * (256 - ay), w10 = (256 - ax) * ay, w11 = ax * ay;
      out[o] = (src[i00]! * w00 + src[i01]! * w01 + src[i10]! * w10 + src[i11]! * w11 + 32768) >> 16;
      out[o + 1] = (src[i00 + 1]! * w00 + src[i01 + 1]! * w01 + src[i10 + 1]! * w10 + src[i11 + 1]! * w11 + 32768) >> 16;
      out[o + 2] = (src[i00 + 2]! * w00 + src[i01 + 2]! * w01 + src[i10 + 2]! * w10 + src[i11 + 2]! * w11 + 32768) >> 16;
      out[o + 3] = 255;
    }
  }

  /** Per-frame mouth-interior inputs: lip gap per column (destination and reference) and teeth band height. */
  private updateMouth(p: PreparedWarp): void {
    const { lipUpper, lipLower } = p.mesh;
    lipGaps(p.dstXY, lipUpper, lipLower, p.gapDst);
    const width = dist(p.dstXY, lipUpper[0]!, lipUpper.at(-1)!);
    this.teethPx = 0.1 * width;
    this.mouthWidthPx = Math.max(1, width);
    // Lips (nearly) sealed over an opening the reference shows: its teeth and dark mouth corners give way to closed lips.
    let sumDst = 0, sumRef = 0;
    for (let i = 0; i < lipUpper.length; i++) { sumDst += p.gapDst[i]!; sumRef += p.gapRef[i]!; }
    const seal = p.sealed && sumRef > 0 ? clamp01((SEAL_OPEN - sumDst / sumRef) / (SEAL_OPEN - SEAL_SHUT)) : 0;
    this.seal = seal;
    this.ownInterior = clamp01(1 - 4 * seal);
    if (p.sealed && (Math.abs(seal - p.sealApplied) > 1 / 64 || (seal !== p.sealApplied && (seal === 0 || seal === 1)))) {
      const { x0, y0, w, h, data } = p.sealed, src = p.reference.image.data, dst = p.tex.data, W = p.tex.width;
      for (let y = 0; y < h; y++) {
        for (let x = 0, o = ((y0 + y) * W + x0) * 4, k = y * w * 4; x < w; x++, o += 4, k += 4) {
          for (let c = 0; c < 3; c++) dst[o + c] = src[o + c]! + (data[k + c]! - src[o + c]!) * seal + 0.5;
        }
      }
      p.sealApplied = seal;
    }
  }

  /** Per-frame eye inputs: each lid column's gap and how far it closed against the reference (0 open .. 1 shut). */
  private updateEyes(p: PreparedWarp): void {
    const { lidUpper, lidLower } = p.mesh;
    const n = lidUpper.length;
    for (let i = 0; i < n; i++) {
      const g = (p.eyeGapDst[i] = dist(p.dstXY, lidUpper[i]!, lidLower[i]!)), r = p.eyeGapRef[i]!;
      p.eyeClosure[i] = r > 0.5 ? clamp01(1 - g / r) : 0;
    }
    // The corners have no gap of their own: they take their neighbour's closure (9 columns per eye).
    for (let e = 0; e < n; e += 9) { p.eyeClosure[e] = p.eyeClosure[e + 1]!; p.eyeClosure[e + 8] = p.eyeClosure[e + 7]!; }
  }

  /**
   * Mouth attributes at the 3 vertices: 0 side (0 upper lip .. 1 lower lip), 1 gap in this frame,
   * 2 gap in the reference, 3-6 the reference's upper and lower lip points of this column (x, y),
   * 7 position across the mouth 0..1.
   */
  private setMouthAttributes(p: PreparedWarp, a: number, b: number, c: number): void {
    const { mouthColumn, mouthSide, lipUpper, lipLower, refXY } = p.mesh;
    const vtx = this.vtx, last = lipUpper.length - 1;
    for (let j = 0; j < 3; j++) {
      const id = j === 0 ? a : j === 1 ? b : c;
      const col = mouthColumn[id]!, up = lipUpper[col]!, lo = lipLower[col]!;
      vtx[j] = mouthSide[id]!; vtx[3 + j] = p.gapDst[col]!; vtx[6 + j] = p.gapRef[col]!;
      vtx[9 + j] = refXY[2 * up]!; vtx[12 + j] = refXY[2 * up + 1]!; vtx[15 + j] = refXY[2 * lo]!; vtx[18 + j] = refXY[2 * lo + 1]!;
      vtx[21 + j] = col / last;
    }
  }

  /**
   * The inner-lip contours of this frame as smooth curves (quadratic B-splines over the 11 contour points, through
   * the edge midpoints), sampled CURVE_STEPS times per piece, so that an open mouth's outline is round where the
   * contour polygon has corners, the mouth corners included. Also the mouth's centroid, for which side of a curve
   * is inside.
   */
  private updateLipCurves(p: PreparedWarp): void {
    const xy = p.dstXY, pts = this.curve;
    let cx = 0, cy = 0;
    for (let chain = 0; chain < 2; chain++) {
      const ids = chain === 0 ? p.mesh.lipUpper : p.mesh.lipLower, other = chain === 0 ? p.mesh.lipLower : p.mesh.lipUpper, n = ids.length;
      let k = chain * CURVE_POINTS;
      const put = (x: number, y: number): void => { pts[2 * k] = x; pts[2 * k + 1] = y; k++; };
      // Control points: the chain, with the other chain's first inner point before and its last after, so the curve
      // rounds the mouth corners too.
      const at = (i: number, d: 0 | 1): number => {
        const id = i < 0 ? other[1]! : i >= n ? other[n - 2]! : ids[i]!;
        return xy[2 * id + d]!;
      };
      for (let i = 0; i < n; i++) {
        const px = at(i, 0), py = at(i, 1);
        const ax = (at(i - 1, 0) + px) / 2, ay = (at(i - 1, 1) + py) / 2;
        const bx = (px + at(i + 1, 0)) / 2, by = (py + at(i + 1, 1)) / 2;
        for (let s = 0; s < CURVE_STEPS; s++) {
          const t = s / CURVE_STEPS, u = 1 - t;
          put(u * u * ax + 2 * u * t * px + t * t * bx, u * u * ay + 2 * u * t * py + t * t * by);
        }
        if (i > 0 && i < n - 1) { cx += px; cy += py; }
        if (i === n - 1) put(bx, by);
      }
    }
    const m = 2 * (p.mesh.lipUpper.length - 2);
    this.curveCx = cx / m; this.curveCy = cy / m;
    // Inside is toward the other lip, and toward the mouth's centroid where a segment runs along that direction (the
    // corners). The centroid alone misjudged a curved (smiling) mouth parted a little: it lay above the upper lip's
    // middle, so the whole gap counted as lip.
    const ins = this.curveInside;
    for (let chain = 0; chain < 2; chain++) {
      const toward = chain === 0 ? -1 : 1;
      for (let k = chain * CURVE_POINTS, end = k + CURVE_POINTS - 1; k < end; k++) {
        const mx = (pts[2 * k]! + pts[2 * k + 2]!) / 2, my = (pts[2 * k + 1]! + pts[2 * k + 3]!) / 2;
        const cl = Math.hypot(this.curveCx - mx, this.curveCy - my) || 1;
        ins[2 * k] = toward * p.upX + (0.5 * (this.curveCx - mx)) / cl;
        ins[2 * k + 1] = toward * p.upY + (0.5 * (this.curveCy - my)) / cl;
      }
    }
  }

  /** The range of curve samples near this mouth triangle's contour vertices, per chain (empty when none is on it). */
  private setLipEdges(p: PreparedWarp, a: number, b: number, c: number): void {
    const { mouthColumn: col, mouthSide: side } = p.mesh, n = p.mesh.lipUpper.length, r = this.curveRange;
    for (let chain = 0; chain < 2; chain++) {
      let c0 = n, c1 = -1;
      for (let j = 0; j < 3; j++) {
        const v = j === 0 ? a : j === 1 ? b : c, sv = side[v]!;
        if (chain === 0 ? sv > 0.5 : sv < 0.5) continue;
        c0 = Math.min(c0, col[v]!); c1 = Math.max(c1, col[v]!);
      }
      // Column i's piece runs from sample i * CURVE_STEPS to (i + 1) * CURVE_STEPS; one piece of margin each side.
      r[2 * chain] = c1 < 0 ? 0 : Math.max(0, (c0 - 1) * CURVE_STEPS);
      r[2 * chain + 1] = c1 < 0 ? 0 : Math.min(CURVE_POINTS - 1, (c1 + 2) * CURVE_STEPS);
    }
  }

  /** Signed distance (px, positive on the mouth's side) from (x, y) to an inner-lip curve near the current triangle. */
  private lipDistance(chain: number, x: number, y: number): number {
    const ins = this.curveInside;
    const pts = this.curve, k0 = chain * CURVE_POINTS + this.curveRange[2 * chain]!, k1 = chain * CURVE_POINTS + this.curveRange[2 * chain + 1]!;
    if (k1 <= k0) return 1e9;
    let best = 1e18, sign = 1;
    for (let k = k0; k < k1; k++) {
      const ax = pts[2 * k]!, ay = pts[2 * k + 1]!, dx = pts[2 * k + 2]! - ax, dy = pts[2 * k + 3]! - ay;
      const len2 = dx * dx + dy * dy;
      const u = len2 > 0 ? clamp01(((x - ax) * dx + (y - ay) * dy) / len2) : 0;
      const ex = x - ax - u * dx, ey = y - ay - u * dy, d2 = ex * ex + ey * ey;
      if (d2 < best) {
        best = d2;
        const side = ins[2 * k]! * dy - ins[2 * k + 1]! * dx, pside = (x - ax) * dy - (y - ay) * dx;
        sign = side * pside >= 0 ? 1 : -1;
      }
    }
    return sign * Math.sqrt(best);
  }

  /**
   * Eye attributes at the 3 vertices: 0 side (0 upper lid .. 1 lower lid), 1 closure, 2 gap in this
   * frame, 3-4 the reference's upper-to-lower lid vector of this column. False when the eye is not closing.
   */
  private setEyeAttributes(p: PreparedWarp, a: number, b: number, c: number): boolean {
    const { eyeColumn, eyeSide, lidUpper, lidLower, refXY } = p.mesh;
    const vtx = this.vtx;
    let closing = false;
    for (let j = 0; j < 3; j++) {
      const id = j === 0 ? a : j === 1 ? b : c;
      const col = eyeColumn[id]!, up = lidUpper[col]!, lo = lidLower[col]!;
      const k = p.eyeClosure[col]!;
      if (k > 0) closing = true;
      vtx[j] = eyeSide[id]!; vtx[3 + j] = k; vtx[6 + j] = p.eyeGapDst[col]!;
      vtx[9 + j] = refXY[2 * lo]! - refXY[2 * up]!; vtx[12 + j] = refXY[2 * lo + 1]! - refXY[2 * up + 1]!;
      vtx[15 + j] = (col % EYE_COLUMNS) / (EYE_COLUMNS - 1); // across the eye, corner to corner
    }
    return closing;
  }

  /**
   * A driving face's gaze moves the irises: the opening's content shifts by up to 15 % of the eye's width
   * (a tenth of it vertically) at its middle, fading to nothing at the lids and corners, so the lids stay put.
   */
  private setGaze(p: PreparedWarp, gaze: { x: number; y: number } | undefined): void {
    if (!gaze || (gaze.x === 0 && gaze.y === 0)) {
      this.gazeDx = this.gazeDy = 0;
      return;
    }
    const { lidUpper, refXY } = p.mesh;
    let widthSum = 0;
    for (let e = 0; e + EYE_COLUMNS - 1 < lidUpper.length; e += EYE_COLUMNS) widthSum += dist(refXY, lidUpper[e]!, lidUpper[e + EYE_COLUMNS - 1]!);
    const eyeWidth = widthSum / Math.max(1, lidUpper.length / EYE_COLUMNS);
    // Only eyes open enough to show an iris move it: narrow, drawn or carved eyes (a statue's lid line) would kink.
    const open = clamp01((Math.max(...p.eyeGapRef) / Math.max(1, eyeWidth) - 0.25) / 0.1);
    this.gazeDx = open * 0.15 * eyeWidth * Math.max(-1, Math.min(1, gaze.x));
    this.gazeDy = open * 0.1 * eyeWidth * Math.max(-1, Math.min(1, gaze.y));
  }

  /** Turn `n` vertex attributes (this.vtx) into plane equations (this.attr) over the destination triangle. */
  private interpolate(n: number, dArea: number, ax: number, ay: number, bx: number, by: number, cx: number, cy: number): void {
    const e1x = bx - ax, e1y = by - ay, e2x = cx - ax, e2y = cy - ay, inv = 1 / dArea, vtx = this.vtx, at = this.attr;
    for (let k = 0; k < n; k++) {
      const f0 = vtx[3 * k]!, f1 = vtx[3 * k + 1]!, f2 = vtx[3 * k + 2]!;
      at[3 * k] = f0;
      at[3 * k + 1] = ((f1 - f0) * e2y - (f2 - f0) * e1y) * inv;
      at[3 * k + 2] = (e1x * (f2 - f0) - e2x * (f1 - f0)) * inv;
    }
  }

  /**
   * Eye opening while the lids close: the eyeball stays where it was relative to the lower lid (so it
   * is hidden, not squashed, by the descending lid), and a thin lash band stays attached to the upper
   * lid. The skin triangles above the lid stretch down over the hidden part.
   */
  private shadeEye(y: number, x0: number, x1: number): void {
    const w = this.cur.reference.image.width, out = this.out, at = this.attr, lash = this.cur.lashPx;
    const py = y + 0.5 - this.oy;
    for (let x = x0, o = (y * w + x0) * 4; x < x1; x++, o += 4) {
      const px = x + 0.5 - this.ox;
      let u = this.u0 + this.ux * px + this.uy * py, v = this.v0 + this.vx * px + this.vy * py;
      const k = at[3]! + at[4]! * px + at[5]! * py;
      const side = at[0]! + at[1]! * px + at[2]! * py;
      if (this.gazeDx !== 0 || this.gazeDy !== 0) {
        const across = clamp01(at[15]! + at[16]! * px + at[17]! * py), s = clamp01(side);
        // Flat over the middle of the opening (the iris moves whole), easing to 0 at the lids and corners.
        const wgt = clamp01(6 * s * (1 - s)) * clamp01(1.6 * Math.sin(Math.PI * across));
        u -= wgt * this.gazeDx;
        v -= wgt * this.gazeDy;
      }
      if (k <= 0) { this.sample(u, v, out, o); continue; }
      const gap = at[6]! + at[7]! * px + at[8]! * py;
      // Nearly shut, what is left of the opening is the lash line of the upper lid.
      const wl = Math.max(clamp01(1 - (side * gap) / lash), clamp01((k - 0.6) * 3));
      const dt = k * ((1 - wl) * (1 - side) - wl * side);
      this.sample(u + dt * (at[9]! + at[10]! * px + at[11]! * py), v + dt * (at[12]! + at[13]! * px + at[14]! * py), out, o);
    }
  }

  /**
   * Mouth interior. No more open than the reference: its own interior, warped. Wider: the
   * reference's interior (its upper teeth, when it shows them) hangs from the upper lip at its own
   * scale and fades into a synthetic cavity with a tongue and, for wide openings, lower-teeth hint.
   */
  private shadeMouth(y: number, x0: number, x1: number): void {
    const p = this.cur, w = p.reference.image.width, out = this.out, at = this.attr, rgb = this.rgb, tmp = this.tmp;
    const py = y + 0.5 - this.oy, mouthW = this.mouthWidthPx, upX = p.upX, upY = p.upY;
    for (let x = x0, o = (y * w + x0) * 4; x < x1; x++, o += 4) {
      const px = x + 0.5 - this.ox;
      const side = at[0]! + at[1]! * px + at[2]! * py;
      const gapDst = at[3]! + at[4]! * px + at[5]! * py;
      // A reference whose lips (nearly) meet has no interior to warp: what the detector reads as its gap is lip and
      // seam, so the synthetic interior shows as soon as the lips part (else small openings stayed shut).
      const gapRef = p.sealed ? at[6]! + at[7]! * px + at[8]! * py : 0;
      // As the lips seal, the reference's opening is repainted as lips (updateMouth), so it no longer has an interior
      // to warp: the gap between lips that are still apart shows the synthetic interior (else a sealing portrait's
      // small openings read as closed lips).
      const gapOwn = gapRef * this.ownInterior;
      // How much of the synthetic interior shows: none while the lips are no more apart than in the reference
      // (its own interior, warped), all from 2 px wider (blended between, so no seam where columns cross over).
      const synth = clamp01((gapDst - gapOwn - 0.5) / 2);
      if (synth < 1) {
        this.sample(this.u0 + this.ux * px + this.uy * py, this.v0 + this.vx * px + this.vy * py, out, o);
        // A gap squeezed well below the reference's shows the shadow between the lips, not a line of squashed teeth;
        // only where the reference has an opening worth hiding (lips that nearly meet show their own seam as it is).
        const ratio = gapRef > 0.5 ? gapDst / gapRef : 1;
        const depth = p.sealed ? clamp01((gapRef - 1.5) / 3) : 0;
        if (ratio < 0.7 && depth > 0) {
          // Sealing, the repainted closed lips show instead, unshaded (drawSeam draws their contact line).
          const q = clamp01((ratio - 0.15) / 0.55);
          const a = 0.7 * (1 - q * q * (3 - 2 * q)) * (1 - this.seal) * depth;
          out[o] = out[o]! * (1 - a); out[o + 1] = out[o + 1]! * (1 - 1.1 * a); out[o + 2] = out[o + 2]! * (1 - 1.1 * a);
        }
        if (synth <= 0) continue;
      }
      const dUp = side * gapDst, dLow = (1 - side) * gapDst;
      const across = at[21]! + at[22]! * px + at[23]! * py;
      p.palette.shade(dUp, dLow, this.teethPx, across, gapDst / mouthW, rgb);
      let r = rgb[0]!, g = rgb[1]!, b = rgb[2]!;
      const ux = at[9]! + at[10]! * px + at[11]! * py, uy = at[12]! + at[13]! * px + at[14]! * py;
      const lx = at[15]! + at[16]! * px + at[17]! * py, ly = at[18]! + at[19]! * px + at[20]! * py;
      // The reference's interior stays attached to the upper lip (teeth belong to the upper jaw),
      // fading out over its last 1.5 px, and as much into shadow toward the corners as the cavity.
      const wt = clamp01((0.9 * gapOwn - dUp) / 1.5);
      if (wt > 0) {
        const t = dUp / gapRef;
        this.sample(ux + (lx - ux) * t, uy + (ly - uy) * t, tmp, 0);
        const e = 2 * across - 1, shade = 1 - 0.5 * e * e * e * e;
        r += (tmp[0]! * shade - r) * wt; g += (tmp[1]! * shade - g) * wt; b += (tmp[2]! * shade - b) * wt;
      }
      // Anti-aliased, rounded lip edges: the interior starts at the smooth inner-lip curve (inside the contour polygon,
      // so the lip colour, from the reference just outside its inner contour, fills the polygon's corners), each pixel
      // by the share of it past the curve. Blending from the curve inwards instead narrowed every gap by ~0.8 px, which
      // is a third of a small opening's (0.04 of the mouth width): MediaPipe read those as closed.
      const aUp = dUp > 8 ? 1 : clamp01(this.lipDistance(0, x + 0.5, y + 0.5) + 0.5);
      const aLow = dLow > 8 ? 1 : clamp01(this.lipDistance(1, x + 0.5, y + 0.5) + 0.5);
      if (aUp < 1 || aLow < 1) {
        if (aUp <= aLow) this.sample(ux + upX * LIP_EDGE_PX, uy + upY * LIP_EDGE_PX, tmp, 0);
        else this.sample(lx - upX * LIP_EDGE_PX, ly - upY * LIP_EDGE_PX, tmp, 0);
        const a = Math.min(aUp, aLow);
        r = tmp[0]! + (r - tmp[0]!) * a; g = tmp[1]! + (g - tmp[1]!) * a; b = tmp[2]! + (b - tmp[2]!) * a;
      }
      if (synth < 1) {
        r = out[o]! + (r - out[o]!) * synth; g = out[o + 1]! + (g - out[o + 1]!) * synth; b = out[o + 2]! + (b - out[o + 2]!) * synth;
      }
      out[o] = r + 0.5; out[o + 1] = g + 0.5; out[o + 2] = b + 0.5; out[o + 3] = 255;
    }
  }
}

/**
 * Lip gap per inner-lip column, px: how far the lower lip lies below the upper across the mouth's
 * corner-to-corner axis (0 where the lips meet or cross).
 */
function lipGaps(xy: Float32Array, upper: number[], lower: number[], out: Float32Array): Float32Array {
  const a = upper[0]!, b = upper.at(-1)!;
  let nx = -(xy[2 * b + 1]! - xy[2 * a + 1]!), ny = xy[2 * b]! - xy[2 * a]!;
  const len = Math.hypot(nx, ny) || 1;
  nx /= len; ny /= len;
  if (ny < 0) { nx = -nx; ny = -ny; } // pointing down the image, from the upper lip to the lower
  for (let i = 0; i < upper.length; i++) {
    const d = (xy[2 * lower[i]!]! - xy[2 * upper[i]!]!) * nx + (xy[2 * lower[i]! + 1]! - xy[2 * upper[i]! + 1]!) * ny;
    out[i] = d > 0 ? d : 0;
  }
  return out;
}

/** Unit normal of the corner-to-corner axis pointing up the image (from the lower lip to the upper). */
function mouthUp(xy: Float32Array, a: number, b: number): { upX: number; upY: number } {
  let nx = -(xy[2 * b + 1]! - xy[2 * a + 1]!), ny = xy[2 * b]! - xy[2 * a]!;
  const len = Math.hypot(nx, ny) || 1;
  nx /= len; ny /= len;
  return ny > 0 ? { upX: -nx, upY: -ny } : { upX: nx, upY: ny };
}

function dist(xy: Float32Array, a: number, b: number): number {
  return Math.hypot(xy[2 * a]! - xy[2 * b]!, xy[2 * a + 1]! - xy[2 * b + 1]!);
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

