/** The addresses a presenter hands out for one session: the viewer page, WHEP playback, WebSocket audio in. */

export interface SessionUrls {
  view: string;
  whep: string;
  audio: string;
}

/** Paths as the server names them in its `POST /v1/sessions` answer; defaults follow the wire contract. */
export interface SessionPaths {
  view?: string;
  whep?: string;
  audio?: string;
}

export function sessionUrls(origin: string, id: string, token: string | null, paths: SessionPaths = {}): SessionUrls {
  const enc = encodeURIComponent(id);
  const view = new URL(paths.view ?? `/view/${enc}`, origin);
  const whep = new URL(paths.whep ?? `/v1/sessions/${enc}/whep`, origin);
  const audio = new URL(paths.audio ?? `/v1/sessions/${enc}/audio`, origin);
  audio.protocol = audio.protocol === 'https:' ? 'wss:' : 'ws:';
  // Browsers cannot set headers on a page load or a WebSocket, so those two carry the token in the query.
  if (token) {
    view.searchParams.set('token', token);
    audio.searchParams.set('token', token);
  }
  return { view: view.toString(), whep: whep.toString(), audio: audio.toString() };
}

export function whipUrl(origin: string, referenceId: string | null): string {
  const url = new URL('/v1/whip', origin);
  if (referenceId) url.searchParams.set('reference', referenceId);
  return url.toString();
}
