/**
 * The page side of FaceMeasurer, served as /page.mjs to headless Chromium (plain JS: the project's tsconfig has
 * no DOM types). It loads MediaPipe FaceLandmarker (CPU delegate) and exposes on `window`:
 *   __mpReady: Promise<void>
 *   __mpBegin(mode: 'IMAGE' | 'VIDEO'): Promise<void>   new landmarker (VIDEO: fresh tracking state, timestamps restart)
 *   __mpRun(batchUrl, metas: {w, h, t}[]): Promise<string> fetches concatenated RGBA frames from batchUrl, detects
 *       each (detectForVideo(t) in VIDEO mode, detect() in IMAGE mode) and returns base64 of a Float32Array with,
 *       per frame, RECORD floats: [found, 478 x (x, y, z) normalised, 52 blendshape scores, 16 floats of the facial
 *       transformation matrix (column-major)].
 *   __mpNames(): string[] | null   the blendshape category names seen in the first result with a face.
 */
export const LANDMARKS = 478;
export const BLENDSHAPES = 52;
/** Floats per frame in the page's reply. */
export const MATRIX = 16;
export const RECORD = 1 + LANDMARKS * 3 + BLENDSHAPES + MATRIX;

export const PAGE_HTML = `<!doctype html><meta charset="utf-8"><title>face measurer</title><script type="module" src="/page.mjs"></script>`;

export const PAGE_JS = `
import { FaceLandmarker, FilesetResolver } from '/vision_bundle.mjs';
const LANDMARKS = ${LANDMARKS}, BLENDSHAPES = ${BLENDSHAPES}, RECORD = ${RECORD};
let fileset = null;
let model = null;
let landmarker = null;
let mode = 'IMAGE';
let names = null;
window.__mpReady = (async () => {
  fileset = await FilesetResolver.forVisionTasks('/wasm');
  model = new Uint8Array(await (await fetch('/model.task')).arrayBuffer());
})();
window.__mpBegin = async (m) => {
  await window.__mpReady;
  if (landmarker) landmarker.close();
  landmarker = null;
  mode = m;
  landmarker = await FaceLandmarker.createFromOptions(fileset, {
    baseOptions: { modelAssetBuffer: model, delegate: 'CPU' },
    runningMode: m,
    numFaces: 1,
    outputFaceBlendshapes: true,
    outputFacialTransformationMatrixes: true,
  });
};
window.__mpNames = () => names;
window.__mpRun = async (url, metas) => {
  const buf = await (await fetch(url)).arrayBuffer();
  const out = new Float32Array(metas.length * RECORD);
  let off = 0;
  for (let i = 0; i < metas.length; i++) {
    const { w, h, t } = metas[i];
    const img = new ImageData(new Uint8ClampedArray(buf, off, w * h * 4), w, h);
    off += w * h * 4;
    const r = mode === 'VIDEO' ? landmarker.detectForVideo(img, t) : landmarker.detect(img);
    const base = i * RECORD;
    const lm = r.faceLandmarks && r.faceLandmarks[0];
    if (!lm || lm.length < LANDMARKS) continue;
    out[base] = 1;
    for (let k = 0; k < LANDMARKS; k++) {
      out[base + 1 + 3 * k] = lm[k].x;
      out[base + 2 + 3 * k] = lm[k].y;
      out[base + 3 + 3 * k] = lm[k].z;
    }
    const bs = r.faceBlendshapes && r.faceBlendshapes[0] && r.faceBlendshapes[0].categories;
    if (bs) {
      if (!names) names = bs.map((c) => c.categoryName);
      for (const c of bs) if (c.index >= 0 && c.index < BLENDSHAPES) out[base + 1 + 3 * LANDMARKS + c.index] = c.score;
    }
    const m = r.facialTransformationMatrixes && r.facialTransformationMatrixes[0];
    if (m && m.data) for (let k = 0; k < 16; k++) out[base + 1 + 3 * LANDMARKS + BLENDSHAPES + k] = m.data[k];
  }
  const bytes = new Uint8Array(out.buffer);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
};
`;
