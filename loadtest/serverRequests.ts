/** HTTP exchanges with the avatar server shared by the Node clients: SDP offers, JSON, DELETE, auth. */

/** A failed HTTP exchange with the server; `retryAfterS` is set on 503. */
export class AvatarServerError extends Error {
  override readonly name = 'AvatarServerError';
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
    readonly retryAfterS: number | null,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  /** Sent as `Authorization: Bearer <token>` when given. */
  token?: string | undefined;
  timeoutMs: number;
}

export function authHeader(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** A 201 answer: its body and its Location resolved against the request URL (null when absent). */
export interface CreatedResource {
  body: string;
  location: string | null;
}

/** POSTs `body`; anything but 201 throws AvatarServerError (with Retry-After on 503). */
export async function postForCreated(url: string, contentType: string, body: string, opts: RequestOptions): Promise<CreatedResource> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': contentType, ...authHeader(opts.token) },
    body,
    signal: AbortSignal.timeout(opts.timeoutMs),
  });
  const text = await res.text();
  if (res.status !== 201) {
    const retry = res.headers.get('retry-after');
    const retryAfterS = retry !== null && retry !== '' && Number.isFinite(Number(retry)) ? Number(retry) : null;
    throw new AvatarServerError(`${new URL(url).pathname} rejected [status:${res.status}, body:${text.slice(0, 200)}]`, res.status, text, retryAfterS);
  }
  const location = res.headers.get('location');
  return { body: text, location: location ? new URL(location, url).toString() : null };
}

/** DELETE, best effort: the server may already be gone (end of a load test), which is not an error here. */
export async function deleteResource(url: string, opts: RequestOptions): Promise<void> {
  try {
    const res = await fetch(url, { method: 'DELETE', headers: authHeader(opts.token), signal: AbortSignal.timeout(opts.timeoutMs) });
    await res.body?.cancel();
  } catch {
    // Nothing to undo on our side.
  }
}
