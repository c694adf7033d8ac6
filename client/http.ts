/** Small HTTP helpers shared by the pages: bearer auth from `?token=`, readable errors. */

/** A failed request, with the server's reason when it gave one. */
export class HttpError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** Seconds the server asked us to wait (`Retry-After` on 503), when it said. */
    readonly retryAfterS: number | null = null,
  ) {
    super(message);
  }
}

/** `?token=...` on the page URL, sent as a bearer token to servers with auth on. */
export const pageToken: string | null = new URLSearchParams(location.search).get('token');

export function bearerHeaders(token: string | null, headers: Record<string, string> = {}): Record<string, string> {
  return token ? { ...headers, authorization: `Bearer ${token}` } : headers;
}

/** Reads the server's reason from a JSON `{error}` body, else the text. */
export async function reasonOf(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: unknown; reason?: unknown; message?: unknown };
    const reason = body.error ?? body.reason ?? body.message;
    if (typeof reason === 'string') return reason;
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 200) || res.statusText || `HTTP ${res.status}`;
}

/** `Retry-After` in seconds, when present and positive. */
export function retryAfterOf(res: Response): number | null {
  const seconds = Number(res.headers.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? seconds : null;
}
