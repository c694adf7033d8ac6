/** Receives one horizontal run of pixels [x0, x1) on row y. */
export type SpanSink = (y: number, x0: number, x1: number) => void;

/** x where the edge (x0,y0)-(x1,y1) crosses height y; endpoints taken in a canonical order so two triangles sharing the edge get bit-identical values. */
function edgeX(x0: number, y0: number, x1: number, y1: number, y: number): number {
  if (y1 < y0 || (y1 === y0 && x1 < x0)) return x1 + (y - y1) * ((x0 - x1) / (y0 - y1));
  return x0 + (y - y0) * ((x1 - x0) / (y1 - y0));
}

/**
 * Scan-convert a triangle over a width x height grid. Pixel (x, y) is covered when its centre
 * (x + 0.5, y + 0.5) lies in the half-open span [left edge, right edge) of a row whose centre lies in
 * [top, bottom): a top-left rule, so triangles that share edges cover each pixel exactly once.
 */
export function rasterizeTriangle(
  ax: number, ay: number, bx: number, by: number, cx: number, cy: number,
  width: number, height: number, sink: SpanSink,
): void {
  // Sort by y: (x0,y0) top, (x1,y1) middle, (x2,y2) bottom.
  let x0 = ax, y0 = ay, x1 = bx, y1 = by, x2 = cx, y2 = cy, t: number;
  if (y1 < y0) { t = x0; x0 = x1; x1 = t; t = y0; y0 = y1; y1 = t; }
  if (y2 < y1) { t = x1; x1 = x2; x2 = t; t = y1; y1 = y2; y2 = t; }
  if (y1 < y0) { t = x0; x0 = x1; x1 = t; t = y0; y0 = y1; y1 = t; }
  let rowStart = Math.ceil(y0 - 0.5), rowEnd = Math.ceil(y2 - 0.5);
  if (rowStart < 0) rowStart = 0;
  if (rowEnd > height) rowEnd = height;
  for (let row = rowStart; row < rowEnd; row++) {
    const yc = row + 0.5;
    const xl = edgeX(x0, y0, x2, y2, yc);
    const xs = yc < y1 ? edgeX(x0, y0, x1, y1, yc) : edgeX(x1, y1, x2, y2, yc);
    let start: number, end: number;
    if (xl < xs) { start = Math.ceil(xl - 0.5); end = Math.ceil(xs - 0.5); }
    else { start = Math.ceil(xs - 0.5); end = Math.ceil(xl - 0.5); }
    if (start < 0) start = 0;
    if (end > width) end = width;
    if (start < end) sink(row, start, end);
  }
}
