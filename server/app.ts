import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import cors from 'cors';
import express from 'express';
import { audioSocketUpgrade } from './api/audioSocketRoute.ts';
import { requireBearer } from './api/auth.ts';
import { apiRouter, errorHandler } from './api/routes.ts';
import type { Config } from './config.ts';
import { listen } from './listen.ts';
import { logger, setLogLevel } from './logger.ts';
import { Metrics } from './metrics.ts';
import { PipelineWorkerPool } from './media/PipelineWorkerPool.ts';
import { h264ProfileOf } from './media/VideoEncoder.ts';
import { resolveEncoderBackend } from './media/videoEncoderFactory.ts';
import { ReferenceService } from './references.ts';
import { SessionManager } from './session/SessionManager.ts';
import { validateMotionModels } from '../engines/motion/createMotionStage.ts';
import { validateRenderEngine, type RenderEngineSettings } from '../engines/render/createRenderEngine.ts';

/** Renderer settings for the workers, from config (paths resolved against the project root). */
export function renderEngineSettings(config: Config): RenderEngineSettings {
  const n = config.renderer.neural;
  return {
    engine: config.renderer.engine,
    width: config.video.width,
    height: config.video.height,
    neural: { ...n, graphsDir: resolve(ROOT, n.graphsDir), tensorrt: { ...n.tensorrt, ...(n.tensorrt.engineCacheDir ? { engineCacheDir: resolve(ROOT, n.tensorrt.engineCacheDir) } : {}) } },
  };
}

function usesOnnxMotion(config: Config): boolean {
  const m = config.motion;
  return m.features !== 'logmel' || m.audio2mesh !== 'embedded' || m.audio2pose !== 'embedded';
}

const ROOT = new URL('..', import.meta.url).pathname;
/** WHEP routes under /v1 (the viewer token is accepted there). */
const WHEP_PATH = /^\/sessions\/[^/]+\/whep(\/[^/]+)?$/;
const CLIENT_DIR = new URL('../client/', import.meta.url).pathname;
const CLIENT_BUNDLE_DIR = new URL('../dist/client/', import.meta.url).pathname;
const MEDIAPIPE_WASM_DIR = resolve(dirname(createRequire(import.meta.url).resolve('@mediapipe/tasks-vision')), 'wasm');
const MODELS_DIR = new URL('../assets/models/', import.meta.url).pathname;
const POSES_DIR = new URL('../assets/poses/', import.meta.url).pathname;

/** A running server. */
export interface RunningServer {
  url: string;
  port: number;
  sessions: SessionManager;
  references: ReferenceService;
  metrics: Metrics;
  /** The HTTP server (a pool member watches its requests). */
  http: Server;
  /** Stop admitting, end every session, stop workers, close the HTTP server. */
  close(): Promise<void>;
}

/** Start the HTTP API, the worker pool and the reference store. */
export async function startServer(fileConfig: Config): Promise<RunningServer> {
  setLogLevel(fileConfig.log.level);
  const log = logger;
  const encoder = await resolveEncoderBackend(fileConfig.video.encoder);
  if (encoder.reason) log.warn({ reason: encoder.reason }, 'libav encoders unavailable: using webcodecs (High-profile H.264 only, slow VP8)');
  log.info({ encoder: encoder.backend, h264: h264ProfileOf(encoder.backend) }, 'video encoder');
  // Everything downstream sees the backend that runs, never 'auto'.
  const config: Config = { ...fileConfig, video: { ...fileConfig.video, encoder: encoder.backend } };
  const metrics = new Metrics();
  const renderSettings = renderEngineSettings(config);
  // Fail at start, with the file and shapes named, rather than in every worker and session.
  await validateRenderEngine(renderSettings);
  if (usesOnnxMotion(config)) await validateMotionModels(config.motion);
  const pool = new PipelineWorkerPool(config.renderer.workers, { render: renderSettings, motion: { ...config.motion }, encoder: encoder.backend }, log);
  pool.onWorkerRestart = () => metrics.workerRestarts.inc();
  if (renderSettings.engine === 'neural') metrics.exportEngineCounters(() => pool.engineCounters());
  const references = new ReferenceService(config, metrics);
  const sessions = new SessionManager(config, pool, metrics, log);
  try {
    await Promise.all([references.start(), pool.ready()]);
  } catch (err) {
    await pool.close();
    await references.close();
    throw err;
  }
  sessions.startMeasuring();

  const app = express();
  app.disable('x-powered-by');
  if (config.server.corsOrigins.length > 0) {
    const any = config.server.corsOrigins.includes('*');
    app.use('/v1', cors({ origin: any ? true : [...config.server.corsOrigins], exposedHeaders: ['Location', 'Retry-After'] }));
  }
  const token = config.auth.token || process.env.AVATAR_TOKEN || '';
  const viewerTokens = [token, config.viewers.token].filter((t) => t.length > 0);
  const apiAuth = token ? requireBearer([token]) : undefined;
  const viewerAuth = viewerTokens.length > 0 ? requireBearer(viewerTokens) : undefined;
  app.use('/v1', (req, res, next) => {
    // WHEP takes the viewer token too, so a viewer link does not hand out the whole API.
    const auth = WHEP_PATH.test(req.path) ? viewerAuth : apiAuth;
    if (auth) auth(req, res, next);
    else next();
  });
  app.use(apiRouter({ config, sessions, references, metrics, log, workerLoad: () => pool.load() }));
  app.get('/view/:id', (_req, res) => res.sendFile(resolve(CLIENT_DIR, 'view.html')));
  app.get('/presenter', (_req, res) => res.sendFile(resolve(CLIENT_DIR, 'presenter.html')));
  app.use('/dist/client', express.static(CLIENT_BUNDLE_DIR));
  // The webcam face tracker of the demo page: MediaPipe's wasm runtime and the FaceLandmarker model (Apache-2.0).
  app.use('/vendor/mediapipe/wasm', express.static(MEDIAPIPE_WASM_DIR, { maxAge: '1d' }));
  app.use('/models', express.static(MODELS_DIR, { maxAge: '1d' }));
  app.use('/poses', express.static(POSES_DIR));
  app.use(express.static(CLIENT_DIR, { index: 'index.html' }));
  app.use((req, res) => {
    res.status(404).json({ error: `no route ${req.method} ${req.path}` });
  });
  app.use(errorHandler(log));

  const server: Server = createServer(app);
  const audioSockets = audioSocketUpgrade(config, sessions, token, log);
  server.on('upgrade', audioSockets.handler);
  const { port, url } = await listen(server, config.server.host, config.server.port);

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    sessions,
    references,
    metrics,
    http: server,
    close: () =>
      (closing ??= (async () => {
        sessions.closeAll('server shutting down');
        audioSockets.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await pool.close();
        await references.close();
      })()),
  };
}
