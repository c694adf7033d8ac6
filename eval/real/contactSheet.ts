/** Contact sheets of `npm run eval:real`: picked frames of a clip, truth row above ours, labelled. */
import sharp, { type OverlayOptions } from 'sharp';
import { CLOSED_OPENING } from './metrics.ts';

/** One column of the sheet. */
export interface SheetColumn {
  index: number;
  fps: number;
  truth?: { width: number; height: number; data: Uint8Array };
  ours?: { width: number; height: number; data: Uint8Array };
  truthOpening: number | null;
  oursOpening: number | null;
  /** our frame was flagged for paint outside the lips */
  paint?: boolean;
  /** MediaPipe landmarks (flat x,y,z px) of each frame: the tile is cropped to that face */
  truthLandmarks?: Float32Array;
  oursLandmarks?: Float32Array;
}

/** Square crop around the landmarks' bounding box, grown by `margin` of its side, clamped to the image. */
export function faceCrop(landmarks: Float32Array | undefined, width: number, height: number, margin = 0.25): { left: number; top: number; width: number; height: number } | undefined {
  if (!landmarks || landmarks.length < 3 || !Number.isFinite(landmarks[0]!)) return undefined;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i + 1 < landmarks.length; i += 3) {
    x0 = Math.min(x0, landmarks[i]!); x1 = Math.max(x1, landmarks[i]!);
    y0 = Math.min(y0, landmarks[i + 1]!); y1 = Math.max(y1, landmarks[i + 1]!);
  }
  const side = Math.min(width, height, Math.ceil(Math.max(x1 - x0, y1 - y0) * (1 + 2 * margin)));
  if (!(side >= 8)) return undefined;
  const left = Math.max(0, Math.min(width - side, Math.round((x0 + x1) / 2 - side / 2)));
  const top = Math.max(0, Math.min(height - side, Math.round((y0 + y1) / 2 - side / 2)));
  return { left, top, width: side, height: side };
}

/**
 * Frames worth looking at: the widest-open truth frames, some closed ones (opening < CLOSED_OPENING, else the
 * least open), the rest spread evenly; picks are at least `minGap` frames apart where possible. Sorted.
 */
export function pickFrames(truthOpening: readonly (number | null)[], count = 10, minGap = 6): number[] {
  const n = truthOpening.length;
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  const picked: number[] = [];
  const farEnough = (i: number, gap: number): boolean => picked.every((p) => Math.abs(p - i) >= gap);
  const found = truthOpening.map((v, i) => ({ v, i })).filter((x): x is { v: number; i: number } => typeof x.v === 'number' && Number.isFinite(x.v));
  const take = (order: { i: number }[], k: number): void => {
    let got = 0;
    for (const gap of [minGap, 1]) {
      for (const { i } of order) {
        if (got >= k) return;
        if (!picked.includes(i) && farEnough(i, gap)) {
          picked.push(i);
          got++;
        }
      }
    }
  };
  const wide = Math.round(count * 0.4);
  const closed = Math.round(count * 0.3);
  take([...found].sort((a, b) => b.v - a.v), wide);
  const closedOnes = found.filter((x) => x.v < CLOSED_OPENING);
  take(closedOnes.length ? [...closedOnes].sort((a, b) => a.i - b.i).filter((_, k, arr) => k % Math.max(1, Math.floor(arr.length / closed)) === 0) : [...found].sort((a, b) => a.v - b.v), closed);
  if (picked.length < wide + closed) take([...found].sort((a, b) => a.v - b.v), wide + closed - picked.length);
  // the rest: each time the frame farthest from everything picked so far
  while (picked.length < count) {
    let best = -1, bestD = -1;
    for (let i = 0; i < n; i++) {
      const d = picked.length ? Math.min(...picked.map((p) => Math.abs(p - i))) : i;
      if (d > bestD) [best, bestD] = [i, d];
    }
    if (bestD <= 0) break;
    picked.push(best);
  }
  return [...new Set(picked)].sort((a, b) => a - b);
}

const TILE = 200;
const LEFT = 56;
const TITLE = 28;
const LABEL = 44;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number | null): string => (v === null || !Number.isFinite(v) ? 'no face' : v.toFixed(3));

async function tile(img: { width: number; height: number; data: Uint8Array } | undefined, landmarks?: Float32Array): Promise<Buffer> {
  if (!img) {
    return sharp({ create: { width: TILE, height: TILE, channels: 4, background: { r: 40, g: 0, b: 0, alpha: 1 } } }).png().toBuffer();
  }
  const crop = faceCrop(landmarks, img.width, img.height);
  const src = sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), { raw: { width: img.width, height: img.height, channels: 4 } });
  return (crop ? src.extract(crop) : src)
    .resize(TILE, TILE, { fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 1 } })
    .png()
    .toBuffer();
}

/** Compose and write the sheet as PNG. */
export async function writeContactSheet(outPath: string, title: string, columns: readonly SheetColumn[]): Promise<void> {
  const width = LEFT + columns.length * TILE;
  const height = TITLE + 2 * TILE + LABEL;
  const layers: OverlayOptions[] = [];
  for (let c = 0; c < columns.length; c++) {
    const col = columns[c]!;
    const left = LEFT + c * TILE;
    layers.push({ input: await tile(col.truth, col.truthLandmarks), left, top: TITLE });
    layers.push({ input: await tile(col.ours, col.oursLandmarks), left, top: TITLE + TILE });
  }
  const text: string[] = [`<text x="6" y="19" font-size="15" fill="#fff">${esc(title)}</text>`];
  text.push(`<text x="6" y="${TITLE + TILE / 2}" font-size="14" fill="#fff">truth</text>`);
  text.push(`<text x="6" y="${TITLE + TILE + TILE / 2}" font-size="14" fill="#fff">ours</text>`);
  columns.forEach((col, c) => {
    const x = LEFT + c * TILE + 4;
    const y = TITLE + 2 * TILE;
    text.push(`<text x="${x}" y="${y + 17}" font-size="13" fill="#fff">t=${((col.index / col.fps)).toFixed(2)}s #${col.index}${col.paint ? ' PAINT' : ''}</text>`);
    text.push(`<text x="${x}" y="${y + 36}" font-size="13" fill="#ccc">open ${fmt(col.truthOpening)} / ${fmt(col.oursOpening)}</text>`);
  });
  // thin separators between columns
  for (let c = 1; c < columns.length; c++) text.push(`<rect x="${LEFT + c * TILE - 1}" y="${TITLE}" width="2" height="${2 * TILE + LABEL}" fill="#222"/>`);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif">${text.join('')}</svg>`;
  layers.push({ input: Buffer.from(svg), left: 0, top: 0 });
  await sharp({ create: { width, height, channels: 4, background: { r: 16, g: 16, b: 16, alpha: 1 } } }).composite(layers).png().toFile(outPath);
}
