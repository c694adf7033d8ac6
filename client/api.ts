/** The API calls the pages make. Each throws HttpError with the server's reason on refusal. */
import { bearerHeaders, HttpError, reasonOf, retryAfterOf } from './http.ts';

export interface Reference {
  id: string;
  width: number;
  height: number;
}

export interface CreatedSession {
  id: string;
  audio?: string;
  whep?: string;
  view?: string;
  codec?: string;
}

/** The fields of `GET /v1/sessions` entries this page shows. */
export interface SessionSummary {
  id: string;
  state?: string;
  source?: string;
  viewers?: unknown;
}

export type AudioSampleRate = 16000 | 24000 | 48000;

async function expect(res: Response, status: number, what: string): Promise<Response> {
  if (res.status !== status) throw new HttpError(`${what}: ${await reasonOf(res)}`, res.status, retryAfterOf(res));
  return res;
}

export async function uploadReference(file: File, token: string | null): Promise<Reference> {
  const res = await fetch('/v1/references', {
    method: 'POST',
    headers: bearerHeaders(token, { 'content-type': file.type || 'application/octet-stream' }),
    body: file,
  });
  return (await (await expect(res, 201, 'portrait rejected')).json()) as Reference;
}

export async function createWebSocketSession(
  sampleRate: AudioSampleRate,
  referenceId: string | null,
  token: string | null,
): Promise<CreatedSession> {
  const body = { source: 'websocket', sampleRate, ...(referenceId ? { reference: referenceId } : {}) };
  const res = await fetch('/v1/sessions', {
    method: 'POST',
    headers: bearerHeaders(token, { 'content-type': 'application/json' }),
    body: JSON.stringify(body),
  });
  return (await (await expect(res, 201, 'session refused')).json()) as CreatedSession;
}

export async function listSessions(token: string | null): Promise<SessionSummary[]> {
  const res = await fetch('/v1/sessions', { headers: bearerHeaders(token) });
  const list = (await (await expect(res, 200, 'cannot list sessions')).json()) as unknown;
  return Array.isArray(list) ? (list as SessionSummary[]) : [];
}

export async function deleteSession(id: string, token: string | null): Promise<void> {
  const res = await fetch(`/v1/sessions/${encodeURIComponent(id)}`, { method: 'DELETE', headers: bearerHeaders(token) });
  // 404: already gone, which is what was asked.
  if (res.status !== 204 && res.status !== 404) await expect(res, 204, 'delete failed');
}
