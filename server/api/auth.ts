import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * True when `presented` equals one of `tokens`. Compares digests in constant time,
 * so response timing tells nothing about the tokens.
 */
export function tokenMatches(presented: string, tokens: readonly string[]): boolean {
  const got = digest(presented);
  let ok = false;
  for (const t of tokens) ok = timingSafeEqual(got, digest(t)) || ok;
  return ok;
}

/** The token of an `Authorization: Bearer <token>` header, if any. */
export function bearerOf(header: string | undefined): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]?.trim();
}

/** Require `Authorization: Bearer <token>` with one of `tokens` (as WHIP and WHEP do). */
export function requireBearer(tokens: readonly string[]) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const presented = bearerOf(req.headers.authorization);
    if (presented !== undefined && tokenMatches(presented, tokens)) {
      next();
      return;
    }
    res.setHeader('WWW-Authenticate', 'Bearer');
    res.status(401).json({ error: presented !== undefined ? 'invalid bearer token' : 'missing Authorization: Bearer token' });
  };
}
