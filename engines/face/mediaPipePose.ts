/**
 * Head angles from MediaPipe FaceLandmarker's facial transformation matrix (4x4, column-major), in the face rig's
 * convention (FaceRig's eulerToMatrix: R = Rz(roll) Ry(yaw) Rx(pitch); +yaw turns the nose to the image right,
 * +pitch nods down, +roll turns the face counter-clockwise in the image).
 */
export interface HeadAngles {
  yawDeg: number;
  pitchDeg: number;
  rollDeg: number;
}

const DEG = 180 / Math.PI;

/** Signs that map MediaPipe's camera frame onto the rig's (checked on real driving video: see the unit test). */
const SIGN = { yaw: 1, pitch: 1, roll: 1 };

export function headAnglesFromMatrix(m: ArrayLike<number>): HeadAngles {
  // Column-major: element (row r, column c) is m[c * 4 + r].
  const r = (row: number, col: number) => m[col * 4 + row]!;
  const yaw = Math.asin(Math.max(-1, Math.min(1, -r(2, 0))));
  const pitch = Math.atan2(r(2, 1), r(2, 2));
  const roll = Math.atan2(r(1, 0), r(0, 0));
  return { yawDeg: SIGN.yaw * yaw * DEG, pitchDeg: SIGN.pitch * pitch * DEG, rollDeg: SIGN.roll * roll * DEG };
}

/** Inner-lip gap (13-14) / mouth width (61-291) from landmark points in pixels; NaN for a degenerate mouth. */
export function mouthOpeningOf(x: (i: number) => number, y: (i: number) => number): number {
  const d = (a: number, b: number) => Math.hypot(x(a) - x(b), y(a) - y(b));
  const width = d(61, 291);
  return width > 0 ? d(13, 14) / width : Number.NaN;
}
