import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { apiRouter, errorHandler } from './api/routes.ts';
import type { Config } from './config.ts';
import { logger, setLogLevel } from './logger.ts';
import { Metrics } from './metrics.ts';
import { PipelineWorkerPool } from './media/PipelineWorkerPool.ts';
import { ReferenceService } from './references.ts';
import { SessionManager } from './session/SessionManager.ts';

const CLIENT_DIR = new URL('../client/', import.meta.url).pathname;
const CLIENT_BUNDLE_DIR = new URL('../dist/client/', import.meta.url).pathname;

/** A running server. */
export interface RunningServer {
  url: string;
  port: number;
  sessions: SessionManager;
  references: ReferenceService;
  metrics: Metrics;
  /** Stop admitting, end every session, stop workers, close the HTTP server. */
  close(): Promise<void>;
}

/** Start the HTTP API, the worker pool and the reference store. */
export async function startServer(config: Config): Promise<RunningServer> {
  setLogLevel(config.log.level);
  const log = logger;
  const metrics = new Metrics();
  const pool = new PipelineWorkerPool(config.renderer.workers, log);
  pool.onWorkerRestart = () => metrics.workerRestarts.inc();
  const references = new ReferenceService(config, metrics);
  const sessions = new SessionManager(config, pool, metrics, log);
  try {
    await references.start();
  } catch (err) {
    await pool.close();
    await references.close();
    throw err;
  }

  const app = express();
  app.disable('x-powered-by');
  app.use(apiRouter({ config, sessions, references, metrics, log, workerLoad: () => pool.load() }));
  app.use('/dist/client', express.static(CLIENT_BUNDLE_DIR));
  app.use(express.static(CLIENT_DIR, { index: 'index.html' }));
  app.use((req, res) => {
    res.status(404).json({ error: `no route ${req.method} ${req.path}` });
  });
  app.use(errorHandler(log));

  const server: Server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = config.server.host === '0.0.0.0' ? '127.0.0.1' : config.server.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    sessions,
    references,
    metrics,
    close: () =>
      (closing ??= (async () => {
        sessions.closeAll('server shutting down');
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await pool.close();
        await references.close();
      })()),
  };
}
