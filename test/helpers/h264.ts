/** Reads Exp-Golomb and fixed-width fields of an RBSP (emulation prevention bytes removed). */
export class BitReader {
  private bit = 0;
  constructor(private readonly bytes: Uint8Array) {}
  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++, this.bit++) v = (v << 1) | ((this.bytes[this.bit >> 3]! >> (7 - (this.bit & 7))) & 1);
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) zeros++;
    return (1 << zeros) - 1 + this.u(zeros);
  }
}

/** NAL units of an Annex B access unit as RBSPs (header byte kept first, 00 00 03 unescaped). */
export function nalUnits(au: Uint8Array): Uint8Array[] {
  const starts: number[] = [];
  for (let i = 0; i + 2 < au.length; i++) if (au[i] === 0 && au[i + 1] === 0 && au[i + 2] === 1) starts.push(i + 3);
  return starts.map((start, k) => {
    let end = k + 1 < starts.length ? starts[k + 1]! - 3 : au.length;
    while (end > start && au[end - 1] === 0) end--;
    const out: number[] = [];
    for (let i = start; i < end; i++) {
      if (i >= start + 2 && au[i] === 3 && au[i - 1] === 0 && au[i - 2] === 0) continue;
      out.push(au[i]!);
    }
    return Uint8Array.from(out);
  });
}

/** What an access unit with SPS and PPS says about its stream. */
export interface H264StreamShape {
  nalTypes: number[];
  profileIdc: number;
  constraintSet0: boolean;
  constraintSet1: boolean;
  levelIdc: number;
  /** PPS entropy_coding_mode_flag: CABAC (Main and up) rather than CAVLC. */
  cabac: boolean;
}

/** Parses the SPS and PPS of a keyframe access unit (throws if either is missing). */
export function h264StreamShape(au: Uint8Array): H264StreamShape {
  const units = nalUnits(au);
  const spsUnit = units.find((u) => (u[0]! & 0x1f) === 7);
  const ppsUnit = units.find((u) => (u[0]! & 0x1f) === 8);
  if (!spsUnit || !ppsUnit) throw new Error('access unit has no SPS or PPS');
  const sps = new BitReader(spsUnit.subarray(1));
  const profileIdc = sps.u(8);
  const constraintSet0 = sps.u(1) === 1;
  const constraintSet1 = sps.u(1) === 1;
  sps.u(6);
  const levelIdc = sps.u(8);
  const pps = new BitReader(ppsUnit.subarray(1));
  pps.ue(); // pic_parameter_set_id
  pps.ue(); // seq_parameter_set_id
  return { nalTypes: units.map((u) => u[0]! & 0x1f), profileIdc, constraintSet0, constraintSet1, levelIdc, cabac: pps.u(1) === 1 };
}
