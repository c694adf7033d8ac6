import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { ReferenceRejectedError } from '../../engines/face/ReferenceRejectedError.ts';
import type { Config } from '../config.ts';
import { BadInputError, CapacityError, InvalidStateError, NotFoundError, UnsupportedError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { ReferenceService } from '../references.ts';
import type { SessionManager } from '../session/SessionManager.ts';
import { parseControlMessage } from '../session/controlMessages.ts';
import { AGENT_SAMPLE_RATES, type AgentSampleRate } from '../session/WebSocketSource.ts';

export interface ApiDeps {
  config: Config;
  sessions: SessionManager;
  references: ReferenceService;
  metrics: Metrics;
  log: Logger;
  workerLoad: () => number[];
}

const IMAGE_TYPES = ['image/png', 'image/jpeg'];

/** The one place that maps error classes to HTTP status codes. */
export function statusOf(err: unknown): number {
  if (err instanceof BadInputError) return err.status;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof UnsupportedError) return 422;
  if (err instanceof CapacityError) return 503;
  if (err instanceof InvalidStateError) return 409;
  const e = err as { status?: unknown; statusCode?: unknown; type?: string };
  if (e?.type === 'entity.too.large') return 413;
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return e.status;
  if (err instanceof ReferenceRejectedError) return err.code === 'too_large' ? 413 : 422;
  return 500;
}

/** Body of `POST /v1/sessions` as JSON: a session driven by a voice agent's WebSocket. */
export function parseSessionJson(raw: Buffer): { reference?: string; sampleRate?: AgentSampleRate } {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new BadInputError('body is not JSON');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadInputError('body must be a JSON object');
  const { source, sampleRate, reference, ...rest } = body as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new BadInputError(`unknown field ${JSON.stringify(extra[0])}; expected source, sampleRate, reference`, 422);
  if (source !== 'websocket') throw new BadInputError(`source must be "websocket" for a JSON body (send an SDP offer for a microphone session), got ${JSON.stringify(source)}`, 422);
  if (sampleRate !== undefined && !(AGENT_SAMPLE_RATES as readonly unknown[]).includes(sampleRate)) {
    throw new BadInputError(`sampleRate must be one of ${AGENT_SAMPLE_RATES.join(', ')}, got ${JSON.stringify(sampleRate)}`, 422);
  }
  if (reference !== undefined && (typeof reference !== 'string' || reference.length === 0)) throw new BadInputError('reference must be a portrait id', 422);
  return { ...(reference !== undefined ? { reference: reference as string } : {}), ...(sampleRate !== undefined ? { sampleRate: sampleRate as AgentSampleRate } : {}) };
}

/** Routes of the wire API (DESIGN.md "Wire API"). */
export function apiRouter(deps: ApiDeps): Router {
  const { config, sessions, references, metrics } = deps;
  const r = express.Router();

  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', sessions: sessions.size, capacity: sessions.capacity(), renderer: config.renderer.engine, workers: deps.workerLoad() });
  });

  r.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  r.post(
    '/v1/references',
    express.raw({ type: () => true, limit: config.reference.maxBytes }),
    async (req: Request, res: Response) => {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (!IMAGE_TYPES.includes(type)) throw new BadInputError(`Content-Type must be image/png or image/jpeg, got "${type || 'none'}"`, 415);
      const body = req.body as Buffer | undefined;
      if (!Buffer.isBuffer(body) || body.length === 0) throw new BadInputError('empty image body', 422);
      const ref = await references.ingest(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
      res.status(201).json(references.toJson(ref));
    },
  );

  r.get('/v1/references/:id', async (req, res) => {
    res.json(references.toJson(await references.get(String(req.params.id))));
  });

  /** Content type of a request, lower case, without parameters. */
  const typeOf = (req: Request) => (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const sdpBody = (req: Request): string => {
    const type = typeOf(req);
    if (type !== 'application/sdp') throw new BadInputError(`Content-Type must be application/sdp, got "${type || 'none'}"`, 415);
    return Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  };
  const referenceParam = async (value: unknown) => {
    if (value !== undefined && typeof value !== 'string') throw new BadInputError('reference must be a single id');
    return references.toWorker(await references.get(value ?? 'default'));
  };
  const body = express.raw({ type: () => true, limit: Math.max(config.limits.sdpBytes, 4096) });
  const sessionLinks = (id: string) => ({ id, audio: `/v1/sessions/${id}/audio`, whep: `/v1/sessions/${id}/whep`, view: `/view/${id}` });
  const noTrickle = (_req: Request, res: Response) => {
    // RFC 9725 §4.3.1: a server without trickle ICE answers PATCH with 405; the client's own checks still connect.
    res.setHeader('Allow', 'DELETE');
    res.status(405).json({ error: 'trickle ICE is not supported: the answer carries every server candidate and client candidates are learnt from its checks' });
  };

  r.post('/v1/sessions', body, async (req: Request, res: Response) => {
    const type = typeOf(req);
    if (type === 'application/json') {
      const init = parseSessionJson(req.body as Buffer);
      const reference = await referenceParam(init.reference ?? req.query.reference);
      const { session } = await sessions.create({ source: 'websocket', sampleRate: init.sampleRate }, reference);
      res.status(201).location(`/v1/sessions/${session.id}`).json({ ...sessionLinks(session.id), codec: session.codec, sampleRate: init.sampleRate ?? null });
      return;
    }
    const offer = sdpBody(req);
    const echo = req.query.echo;
    if (echo !== undefined && echo !== '0' && echo !== '1') throw new BadInputError('echo must be 0 or 1');
    const reference = await referenceParam(req.query.reference);
    const { session, answerSdp } = await sessions.create({ source: 'webrtc', offerSdp: offer, echo: echo === '1' }, reference);
    res.status(201).location(`/v1/sessions/${session.id}`).type('application/sdp').send(answerSdp);
  });

  r.post('/v1/whip', body, async (req: Request, res: Response) => {
    const offer = sdpBody(req);
    const reference = await referenceParam(req.query.reference);
    const { session, answerSdp } = await sessions.create({ source: 'whip', offerSdp: offer }, reference);
    res.status(201).location(`/v1/sessions/${session.id}`).type('application/sdp').send(answerSdp);
  });

  r.post('/v1/sessions/:id/whep', body, async (req: Request, res: Response) => {
    const offer = sdpBody(req);
    const session = sessions.get(String(req.params.id));
    const { viewerId, answerSdp } = await session.addViewer(offer);
    res.status(201).location(`/v1/sessions/${session.id}/whep/${viewerId}`).type('application/sdp').send(answerSdp);
  });

  r.delete('/v1/sessions/:id/whep/:viewerId', (req, res) => {
    sessions.get(String(req.params.id)).removeViewer(String(req.params.viewerId));
    res.status(204).end();
  });

  r.patch('/v1/sessions/:id', noTrickle);
  r.patch('/v1/sessions/:id/whep/:viewerId', noTrickle);

  r.get('/v1/sessions', (_req, res) => {
    res.json(sessions.list().map((s) => s.stats()));
  });

  r.get('/v1/sessions/:id', (req, res) => {
    res.json(sessions.get(String(req.params.id)).stats());
  });

  r.post('/v1/sessions/:id/control', express.json({ limit: 4096 }), (req, res) => {
    const parsed = parseControlMessage(JSON.stringify(req.body ?? null));
    if ('error' in parsed) throw new BadInputError(parsed.error);
    sessions.get(String(req.params.id)).applyControl(parsed.message);
    res.status(204).end();
  });

  r.delete('/v1/sessions/:id', (req, res) => {
    sessions.delete(String(req.params.id));
    res.status(204).end();
  });

  return r;
}

/** Error middleware: a one-line reason as JSON, status from statusOf(); 5xx are logged. */
export function errorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const status = statusOf(err);
    const tooLarge = (err as { type?: string; limit?: number })?.type === 'entity.too.large';
    const message = tooLarge
      ? `request body larger than ${(err as { limit: number }).limit} bytes`
      : err instanceof Error
        ? err.message.split('\n')[0]
        : String(err);
    if (status === 503) log.warn({ status, err: message, path: req.path }, 'request refused: at capacity');
    else if (status >= 500) log.error({ err: message, stack: (err as Error)?.stack, path: req.path }, 'request failed');
    else log.info({ status, err: message, path: req.path }, 'request rejected');
    if (err instanceof CapacityError) res.setHeader('Retry-After', String(err.retryAfterS));
    if (res.headersSent) return;
    res.status(status).json({ error: status >= 500 && status !== 503 ? 'internal error' : message });
  };
}
