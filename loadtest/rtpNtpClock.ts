/**
 * Maps a received track's RTP timestamps onto the sender's NTP wall clock from its RTCP sender reports,
 * which is how a browser lines up the audio and video of one MediaStream for lip sync.
 */

/** One RTCP sender report as received. */
export interface SenderReport {
  /** The report's NTP timestamp as Unix time, ms. */
  ntpMs: number;
  rtpTimestamp: number;
  /** Receiver's wall clock at arrival (Unix ms). */
  arrivalMs: number;
}

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;

/** A 64-bit NTP timestamp (32.32 fixed point seconds since 1900) as Unix time in ms. */
export function ntpToUnixMs(ntp: bigint): number {
  const seconds = Number(ntp >> 32n);
  const fraction = Number(ntp & 0xffff_ffffn) / 2 ** 32;
  return (seconds - NTP_UNIX_OFFSET_S + fraction) * 1000;
}

/** Signed distance b - a between two 32-bit RTP timestamps (wrap-around safe within half the range). */
export function rtpDelta(a: number, b: number): number {
  return (b - a) | 0;
}

/** How many reports, nearest in RTP time, vote on each mapping. */
const VOTING_REPORTS = 5;

export class RtpNtpClock {
  private readonly reports: SenderReport[] = [];

  /** `clockRate`: the track's RTP clock, Hz (48000 Opus, 90000 video). `maxReports` bounds memory on long runs. */
  constructor(
    readonly clockRate: number,
    private readonly maxReports = 4096,
  ) {}

  addReport(report: SenderReport): void {
    this.reports.push(report);
    if (this.reports.length > this.maxReports) this.reports.shift();
  }

  get reportCount(): number {
    return this.reports.length;
  }

  /** Every report kept, in arrival order. */
  get allReports(): readonly SenderReport[] {
    return this.reports;
  }

  get lastReport(): SenderReport | undefined {
    return this.reports.at(-1);
  }

  /**
   * The sender's wall time (Unix ms) of `rtpTimestamp`, or null before any report. The RTP clock runs at its
   * nominal rate; each report nearest in RTP time gives the offset and the median of them is taken, so one
   * report stamped late by a busy sender does not move the whole track.
   */
  toNtpMs(rtpTimestamp: number): number | null {
    const n = this.reports.length;
    if (n === 0) return null;
    const nearest = this.nearestReports(rtpTimestamp);
    const estimates = nearest.map((r) => r.ntpMs + (rtpDelta(r.rtpTimestamp, rtpTimestamp) * 1000) / this.clockRate).sort((a, b) => a - b);
    const mid = estimates.length >> 1;
    return estimates.length % 2 === 1 ? estimates[mid]! : (estimates[mid - 1]! + estimates[mid]!) / 2;
  }

  private nearestReports(rtpTimestamp: number): SenderReport[] {
    if (this.reports.length <= VOTING_REPORTS) return this.reports;
    // Reports arrive in RTP order, so the nearest ones are a window around the closest.
    let best = 0;
    let bestDistance = Infinity;
    for (let i = 0; i < this.reports.length; i++) {
      const d = Math.abs(rtpDelta(this.reports[i]!.rtpTimestamp, rtpTimestamp));
      if (d < bestDistance) {
        bestDistance = d;
        best = i;
      }
    }
    const start = Math.max(0, Math.min(this.reports.length - VOTING_REPORTS, best - (VOTING_REPORTS >> 1)));
    return this.reports.slice(start, start + VOTING_REPORTS);
  }
}
