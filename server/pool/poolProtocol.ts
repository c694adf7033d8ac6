import type { MetricObjectWithValues, MetricValue } from 'prom-client';

/** How the front door configures a media process it starts (JSON in AVATAR_POOL_MEMBER). */
export interface MemberSettings {
  index: number;
  /** This process's share of the machine's cores: its CPU budget for admission. */
  cores: number;
  /** Render worker threads in this process. */
  workers: number;
  /** This process's slice of webrtc.icePortRange, when one is configured. */
  icePortRange?: [number, number];
  /** The portrait cache directory all processes share, when the config keeps portraits in memory only. */
  referenceCacheDir?: string;
}

/** What a media process reports to the front door every REPORT_INTERVAL_MS. */
export interface CapacityReport {
  sessions: number;
  /** Sessions this process admits at most right now (session limit and CPU budget). */
  limit: number;
  cpuMsPerSessionS: number;
  budgetMsPerS: number;
  usedMsPerS: number;
  /** The highest placement number (PLACEMENT_HEADER) this process has received. */
  placementsSeen: number;
  /** Placements received and not yet answered: sessions being created, not yet in `sessions`. */
  placementsPending: number;
}

export type FromMember =
  | { type: 'ready'; url: string }
  | { type: 'capacity'; report: CapacityReport }
  | { type: 'metrics'; requestId: number; metrics: MetricObjectWithValues<MetricValue<string>>[] };

export type ToMember = { type: 'metrics'; requestId: number };

export const MEMBER_ENV = 'AVATAR_POOL_MEMBER';
export const REPORT_INTERVAL_MS = 1000;
/**
 * Numbers each placement the front door forwards to a process (1, 2, ...). A report names the highest one the process
 * has received, so a report written before a placement arrived never hides that placement (a report races the HTTP
 * request it does not yet know about).
 */
export const PLACEMENT_HEADER = 'x-avatar-placement';
