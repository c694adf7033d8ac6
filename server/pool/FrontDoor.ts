import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { AggregatorRegistry, Counter, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Config } from '../config.ts';
import { listen } from '../listen.ts';
import { logger } from '../logger.ts';
import { frontDoorRoute, placementOrder } from './frontDoorRoutes.ts';
import { MediaProcess } from './MediaProcess.ts';
import { PLACEMENT_HEADER, type MemberSettings } from './poolProtocol.ts';

/** Bodies the front door holds to place a session (SDP offers, JSON); the media process checks the real limits. */
const MAX_PLACE_BODY_BYTES = 1024 * 1024;
const START_TIMEOUT_MS = 120_000;

/** Media processes for a config: `pool.processes`, or one per 2 cores when 0. */
export function poolSize(config: Config, cores = availableParallelism()): number {
  return config.pool.processes > 0 ? config.pool.processes : Math.max(1, Math.floor(cores / 2));
}

/** How each of `n` media processes is set up on `cores` cores: a share of the cores, workers within it, a port slice. */
export function planMembers(config: Config, n: number, cores = availableParallelism(), sharedReferenceDir?: string): MemberSettings[] {
  const share = Math.max(0.5, cores / n);
  const range = config.webrtc.icePortRange;
  return Array.from({ length: n }, (_, index) => {
    const settings: MemberSettings = { index, cores: share, workers: Math.max(1, Math.min(config.renderer.workers, Math.floor(share))) };
    if (sharedReferenceDir) settings.referenceCacheDir = sharedReferenceDir;
    if (range) {
      const span = Math.floor((range[1] - range[0] + 1) / n);
      settings.icePortRange = [range[0] + index * span, range[0] + (index + 1) * span - 1];
    }
    return settings;
  });
}

/** A running pool: one HTTP port in front of N media processes. */
export interface RunningFrontDoor {
  url: string;
  port: number;
  processes: readonly MediaProcess[];
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        resolve(undefined);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * The front door of a process pool: places each new session on the media process with the most free capacity,
 * routes everything about a session to its owner (by the id's `pN-` prefix; WebSocket upgrades too), merges the
 * session lists, health and metrics (each sample labelled `process`), and restarts a media process that exits:
 * only that process's sessions end. A small proxy over node:http: each request goes to one known local process,
 * chosen by rules of this server, so a general proxy library would add little.
 */
export async function startFrontDoor(config: Config, args: string[], size = poolSize(config)): Promise<RunningFrontDoor> {
  const log = logger.child({ frontDoor: true });
  const registry = new Registry();
  const up = new Gauge({ name: 'avatar_pool_processes_up', help: 'Media processes up', registers: [registry] });
  const restarts = new Counter({ name: 'avatar_pool_process_restarts_total', help: 'Media processes restarted after they exited', labelNames: ['process'], registers: [registry] });
  const placed = new Counter({ name: 'avatar_pool_sessions_placed_total', help: 'Session requests placed on a media process', labelNames: ['process'], registers: [registry] });
  // Portraits are found by content hash in a disk cache every process reads; a memory-only config gets a temporary one.
  const tempReferenceDir = config.reference.cacheDir === '' ? await mkdtemp(join(tmpdir(), 'avatar-pool-references-')) : undefined;
  const processes = planMembers(config, size, availableParallelism(), tempReferenceDir).map((s) => new MediaProcess(s, args, config.pool.restartDelayMs, log));
  const countUp = () => up.set(processes.filter((p) => p.state === 'up').length);
  for (const p of processes) {
    p.on('up', countUp);
    p.on('exit', () => {
      countUp();
      if (p.state !== 'stopped') restarts.inc({ process: String(p.index) });
    });
    p.start();
  }
  await waitForAll(processes, START_TIMEOUT_MS).catch(async (err: Error) => {
    await Promise.all(processes.map((p) => p.stop(2000)));
    throw err;
  });

  let nextAny = 0;
  const anyUp = (): MediaProcess | undefined => {
    const ready = processes.filter((p) => p.state === 'up');
    return ready.length > 0 ? ready[nextAny++ % ready.length] : undefined;
  };

  const forward = (req: IncomingMessage, res: ServerResponse, target: MediaProcess, body?: Buffer, retryOn503?: () => void, extraHeaders: Record<string, string> = {}): void => {
    const url = target.url!;
    // Only the front door numbers placements.
    const { [PLACEMENT_HEADER]: _, ...headers } = req.headers;
    const upstream = request(
      { host: url.hostname, port: url.port, method: req.method, path: req.url, headers: { ...headers, host: url.host, 'x-forwarded-for': req.socket.remoteAddress ?? '', ...extraHeaders } },
      (upRes) => {
        if (upRes.statusCode === 503 && retryOn503) {
          upRes.resume();
          retryOn503();
          return;
        }
        res.writeHead(upRes.statusCode ?? 502, upRes.rawHeaders);
        upRes.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      log.warn({ member: target.index, err: err.message }, 'media process did not answer');
      sendJson(res, 502, { error: `media process ${target.index} did not answer: ${err.message}` });
    });
    if (body) upstream.end(body);
    else req.pipe(upstream);
  };

  const place = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req, MAX_PLACE_BODY_BYTES);
    if (!body) return sendJson(res, 413, { error: `request body larger than ${MAX_PLACE_BODY_BYTES} bytes` });
    const order = placementOrder(
      processes.map((p) => ({
        index: p.index,
        up: p.state === 'up',
        sessions: p.report?.sessions,
        limit: p.report?.limit,
        budgetMsPerS: p.report?.budgetMsPerS,
        usedMsPerS: p.report?.usedMsPerS,
        pending: (p.report?.placementsPending ?? 0) + p.placementsUnseen,
      })),
    );
    if (order.length === 0) return sendJson(res, 503, { error: 'no media process is up; retry shortly' }, { 'retry-after': '2' });
    // Try the best first; a 503 (full) moves on to the next, and the last one's answer is the client's.
    const attempt = (k: number): void => {
      const target = processes[order[k]!]!;
      placed.inc({ process: String(target.index) });
      forward(req, res, target, body, k + 1 < order.length ? () => attempt(k + 1) : undefined, { [PLACEMENT_HEADER]: String(++target.placementsSent) });
    };
    attempt(0);
  };

  const fanOutJson = async (path: string, headers: IncomingMessage['headers']): Promise<{ status: number; body: unknown }[]> =>
    Promise.all(
      processes
        .filter((p) => p.state === 'up')
        .map(
          (p) =>
            new Promise<{ status: number; body: unknown }>((resolve) => {
              const r = request({ host: p.url!.hostname, port: p.url!.port, path, headers: { authorization: headers.authorization ?? '' } }, (upRes) => {
                const chunks: Buffer[] = [];
                upRes.on('data', (c: Buffer) => chunks.push(c));
                upRes.on('end', () => {
                  try {
                    resolve({ status: upRes.statusCode ?? 502, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
                  } catch {
                    resolve({ status: 502, body: undefined });
                  }
                });
              });
              r.on('error', () => resolve({ status: 502, body: undefined }));
              r.end();
            }),
        ),
    );

  const health = (res: ServerResponse): void => {
    const members = processes.map((p) => ({ process: p.index, pid: p.pid ?? null, state: p.state, restarts: p.restarts, ...(p.report ?? {}) }));
    const anyReady = processes.some((p) => p.state === 'up');
    sendJson(res, anyReady ? 200 : 503, {
      status: anyReady ? 'ok' : 'down',
      sessions: members.reduce((n, m) => n + (m.sessions ?? 0), 0),
      processes: members,
    });
  };

  const metrics = async (res: ServerResponse): Promise<void> => {
    const perProcess = await Promise.all(processes.map(async (p) => ({ index: p.index, metrics: await p.metrics() })));
    const labelled: MetricObjectWithValues<MetricValue<string>>[][] = perProcess
      .filter((m) => m.metrics !== undefined)
      .map(({ index, metrics }) => metrics!.map((metric) => ({ ...metric, values: metric.values.map((v) => ({ ...v, labels: { ...v.labels, process: String(index) } })) })));
    const merged = Registry.merge([AggregatorRegistry.aggregate(labelled), registry]);
    res.writeHead(200, { 'content-type': merged.contentType });
    res.end(await merged.metrics());
  };

  const server: Server = createServer((req, res) => {
    const route = frontDoorRoute(req.method ?? 'GET', req.url ?? '/');
    const fail = (err: unknown) => sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) });
    switch (route.kind) {
      case 'place':
        return void place(req, res).catch(fail);
      case 'owner': {
        const owner = route.index === undefined ? undefined : processes[route.index];
        if (!owner) return sendJson(res, 404, { error: `no session ${route.sessionId.slice(0, 80)}` });
        if (owner.state !== 'up') return sendJson(res, 404, { error: `no session ${route.sessionId.slice(0, 80)}: its media process ${owner.index} exited and its sessions ended` });
        return forward(req, res, owner);
      }
      case 'list':
        return void fanOutJson(req.url ?? '/v1/sessions', req.headers)
          .then((answers) => {
            const refused = answers.find((a) => a.status !== 200);
            if (refused) return sendJson(res, refused.status, refused.body ?? { error: 'a media process did not answer' });
            sendJson(res, 200, answers.flatMap((a) => (Array.isArray(a.body) ? a.body : [])));
          })
          .catch(fail);
      case 'health':
        return health(res);
      case 'metrics':
        return void metrics(res).catch(fail);
      case 'reference':
      case 'any': {
        // Portraits are stored by content hash in the shared disk cache, so any process can ingest one for all.
        const target = anyUp();
        if (!target) return sendJson(res, 503, { error: 'no media process is up; retry shortly' }, { 'retry-after': '2' });
        return forward(req, res, target);
      }
    }
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const route = frontDoorRoute(req.method ?? 'GET', req.url ?? '/');
    const owner = route.kind === 'owner' && route.index !== undefined ? processes[route.index] : undefined;
    if (!owner || owner.state !== 'up') {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":"no such session"}');
      return;
    }
    const upstream: Socket = connect(Number(owner.url!.port), owner.url!.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    const close = () => {
      upstream.destroy();
      socket.destroy();
    };
    upstream.on('error', close);
    socket.on('error', close);
    upstream.on('close', close);
    socket.on('close', close);
  });

  const { port, url } = await listen(server, config.server.host, config.server.port);
  log.info({ processes: processes.map((p) => ({ process: p.index, pid: p.pid, cores: p.settings.cores, workers: p.settings.workers })) }, 'process pool up');
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    processes,
    close: () =>
      (closing ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await Promise.all(processes.map((p) => p.stop(config.server.shutdownTimeoutMs)));
        if (tempReferenceDir) await rm(tempReferenceDir, { recursive: true, force: true });
      })()),
  };
}

/** Resolves when every process is up; rejects when one exits first (its own log says why) or after `timeoutMs`. */
function waitForAll(processes: MediaProcess[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => settle(new Error(`media processes not up after ${timeoutMs} ms`)), timeoutMs);
    const check = () => {
      if (processes.every((p) => p.state === 'up')) settle();
    };
    for (const p of processes) {
      p.on('up', check);
      p.once('exit', (code, signal) => settle(new Error(`media process ${p.index} exited while starting [code:${code}, signal:${signal}]`)));
    }
    check();
  });
}
