import type { Server } from 'node:http';
import { startServer } from '../app.ts';
import type { Config } from '../config.ts';
import { logger } from '../logger.ts';
import { MEMBER_ENV, PLACEMENT_HEADER, REPORT_INTERVAL_MS, type FromMember, type MemberSettings, type ToMember } from './poolProtocol.ts';

/** The settings of this process when the front door started it, else undefined. */
export function memberSettings(): MemberSettings | undefined {
  const raw = process.env[MEMBER_ENV];
  if (!raw || !process.send) return undefined;
  return JSON.parse(raw) as MemberSettings;
}

/** Config overrides that make this process media process `m` (internal port, its id prefix, cores, workers, ports). */
export function memberOverrides(m: MemberSettings): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 0 },
    renderer: { workers: m.workers },
    pool: { processes: 1, member: { index: m.index, cores: m.cores } },
    ...(m.icePortRange ? { webrtc: { icePortRange: m.icePortRange } } : {}),
    ...(m.referenceCacheDir ? { reference: { cacheDir: m.referenceCacheDir } } : {}),
  };
}

/**
 * Runs one media process of a pool: the whole server on an internal port, reporting its address, its free capacity
 * every second and its metrics on request to the front door over IPC. It ends when the front door goes away.
 */
export async function runPoolMember(config: Config): Promise<void> {
  const send = (msg: FromMember): void => {
    if (process.connected) process.send!(msg);
  };
  const running = await startServer(config);
  const log = logger.child({ member: config.pool.member?.index });
  const placements = watchPlacements(running.http);
  const report = (): void =>
    send({ type: 'capacity', report: { sessions: running.sessions.size, ...running.sessions.capacity(), placementsSeen: placements.seen, placementsPending: placements.pending } });
  const timer = setInterval(report, REPORT_INTERVAL_MS);
  timer.unref();
  process.on('message', (msg: ToMember) => {
    if (msg.type === 'metrics') {
      void running.metrics.registry.getMetricsAsJSON().then((metrics) => send({ type: 'metrics', requestId: msg.requestId, metrics }));
    }
  });
  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    log.info({ why }, 'media process stopping');
    const force = setTimeout(() => process.exit(1), config.server.shutdownTimeoutMs);
    force.unref();
    void running.close().finally(() => {
      logger.flush();
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('disconnect', () => stop('front door gone'));
  send({ type: 'ready', url: running.url });
  report();
  log.info({ url: running.url, pid: process.pid }, 'media process ready');
}

/** Counts the placements the front door forwards here: the highest number received, and those not yet answered. */
export function watchPlacements(http: Server): { seen: number; pending: number } {
  const state = { seen: 0, pending: 0 };
  http.on('request', (req, res) => {
    const n = Number(req.headers[PLACEMENT_HEADER]);
    if (!Number.isInteger(n) || n <= 0) return;
    state.seen = Math.max(state.seen, n);
    state.pending++;
    res.once('close', () => state.pending--);
  });
  return state;
}
