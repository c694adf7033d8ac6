import { ownerOfSessionId } from './sessionIds.ts';

/** Where the front door sends a request. */
export type FrontDoorRoute =
  /** A new session: placed on the media process with the most free capacity. */
  | { kind: 'place' }
  /** Anything about one session: its owner, named by the id's prefix (undefined: no such session anywhere). */
  | { kind: 'owner'; index: number | undefined; sessionId: string }
  /** The session list: every process's, merged. */
  | { kind: 'list' }
  | { kind: 'metrics' }
  | { kind: 'health' }
  /** A portrait upload. */
  | { kind: 'reference' }
  /** Pages, scripts, reference reads, CORS preflights: any process serves them alike. */
  | { kind: 'any' };

const SESSION_PATH = /^\/v1\/sessions\/([^/?]+)/;

/** Routes a request by method and path (the query string is ignored). */
export function frontDoorRoute(method: string, url: string): FrontDoorRoute {
  const path = url.split('?')[0]!;
  if (method === 'OPTIONS') return { kind: 'any' };
  const session = SESSION_PATH.exec(path);
  if (session) {
    const sessionId = decodeURIComponent(session[1]!);
    return { kind: 'owner', index: ownerOfSessionId(sessionId), sessionId };
  }
  if (path === '/v1/sessions') return method === 'POST' ? { kind: 'place' } : { kind: 'list' };
  if (path === '/v1/whip' && method === 'POST') return { kind: 'place' };
  if (path === '/metrics') return { kind: 'metrics' };
  if (path === '/healthz') return { kind: 'health' };
  if (path === '/v1/references' && method === 'POST') return { kind: 'reference' };
  return { kind: 'any' };
}

/** What placement knows of a process. */
export interface PlacementCandidate {
  index: number;
  up: boolean;
  /** From its last report; undefined before the first. */
  sessions: number | undefined;
  limit: number | undefined;
  budgetMsPerS: number | undefined;
  usedMsPerS: number | undefined;
  /** Placements it has not answered yet, or that its last report did not know of. */
  pending: number;
}

/**
 * The order to try processes for a new session: most free session slots first (its limit follows its measured CPU),
 * then most free CPU budget, then the lowest index. Processes that are not up are left out.
 */
export function placementOrder(candidates: readonly PlacementCandidate[]): number[] {
  const free = (c: PlacementCandidate) => (c.limit ?? 1) - (c.sessions ?? 0) - c.pending;
  const freeBudget = (c: PlacementCandidate) => (c.budgetMsPerS !== undefined && c.budgetMsPerS >= 0 ? c.budgetMsPerS - (c.usedMsPerS ?? 0) : 0);
  return candidates
    .filter((c) => c.up)
    .sort((a, b) => free(b) - free(a) || freeBudget(b) - freeBudget(a) || a.index - b.index)
    .map((c) => c.index);
}
