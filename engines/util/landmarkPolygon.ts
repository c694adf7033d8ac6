/** Outer lip contour (MediaPipe ids), corner 61 over the upper lip to corner 291, then back along the lower lip. */
export const LIPS_OUTER: readonly number[] = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146];

/** Whether (x, y) lies inside the polygon through landmarks `ids` of flat `[x0, y0, x1, y1, ...]` (even-odd rule). */
export function inLandmarkPolygon(x: number, y: number, xy: ArrayLike<number>, ids: readonly number[]): boolean {
  let inside = false;
  for (let i = 0, j = ids.length - 1; i < ids.length; j = i++) {
    const xi = xy[2 * ids[i]!]!, yi = xy[2 * ids[i]! + 1]!, xj = xy[2 * ids[j]!]!, yj = xy[2 * ids[j]! + 1]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
