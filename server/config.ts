import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DEVICES } from '../engines/onnx/executionProviders.ts';

const int = (min: number, max: number) => z.number().int().min(min).max(max);

const ConfigSchema = z
  .object({
    server: z
      .object({ host: z.string().min(1), port: int(0, 65535), corsOrigins: z.array(z.string().min(1)), shutdownTimeoutMs: int(100, 120_000) })
      .strict(),
    auth: z.object({ token: z.string() }).strict(),
    video: z
      .object({
        width: int(64, 1920).refine((v) => v % 2 === 0, 'must be even'),
        height: int(64, 1920).refine((v) => v % 2 === 0, 'must be even'),
        fps: int(1, 60),
        codec: z.enum(['h264', 'vp8']),
        encoder: z.enum(['auto', 'libav', 'webcodecs']),
        bitrateKbps: int(50, 20000),
        keyframeIntervalS: z.number().min(0.5).max(60),
        mtu: int(300, 1400),
      })
      .strict(),
    audio: z.object({ jitterBufferMs: int(0, 1000), idleFillMs: int(60, 5000) }).strict(),
    voice: z.object({ bitrateKbps: int(6, 510) }).strict(),
    websocket: z.object({ maxBufferedS: z.number().min(1).max(600), maxMessageBytes: int(1024, 16 * 1024 * 1024) }).strict(),
    viewers: z.object({ maxPerSession: int(0, 1000), token: z.string() }).strict(),
    pipeline: z.object({ seed: int(0, 2 ** 31 - 1) }).strict(),
    motion: z
      .object({
        features: z.enum(['logmel', 'wav2vec']),
        audio2mesh: z.enum(['learned', 'embedded', 'onnx']),
        audio2pose: z.enum(['embedded', 'onnx']),
        wav2vecPath: z.string().min(1).optional(),
        audio2meshPath: z.string().min(1).optional(),
        audio2posePath: z.string().min(1).optional(),
        device: z.enum(DEVICES),
        fallback: z.boolean(),
        wav2vecLeftContextMs: int(0, 10000).optional(),
        wav2vecHopMs: int(20, 1000).optional(),
        wav2vecRightContextMs: int(0, 1000).optional(),
        audio2poseContextFrames: int(0, 1000).optional(),
      })
      .strict(),
    renderer: z
      .object({
        engine: z.enum(['warp', 'neural']),
        workers: int(1, 64),
        maxQueueFrames: int(1, 60),
        neural: z
          .object({
            graphsDir: z.string().min(1),
            device: z.enum(DEVICES),
            fallback: z.boolean(),
            tensorrt: z
              .object({ fp16: z.boolean(), engineCacheDir: z.string().optional(), workspaceBytes: int(1 << 20, 2 ** 40), deviceId: int(0, 64) })
              .strict(),
            steps: int(1, 4),
            chunkFrames: int(1, 32),
            contextFrames: int(0, 32),
            maxBatch: int(1, 64),
            maxQueue: int(1, 10000),
            cacheBytes: int(1 << 20, 2 ** 40),
            seed: int(0, 2 ** 31 - 1),
          })
          .strict(),
      })
      .strict(),
    reference: z
      .object({
        default: z.string().min(1),
        cacheDir: z.string(),
        memoryEntries: int(1, 10000),
        maxStored: int(1, 1_000_000),
        maxBytes: int(1024, 200 * 1024 * 1024),
        maxPixels: int(4096, 400_000_000),
        refineLips: z.boolean().default(true),
      })
      .strict(),
    sessions: z
      .object({
        max: int(1, 1000),
        capacityUtilization: z.number().min(0).max(1),
        maxDurationS: int(10, 7 * 24 * 3600),
        idleTimeoutS: int(5, 24 * 3600),
      })
      .strict(),
    webrtc: z
      .object({
        additionalHostAddresses: z.array(z.string()),
        stunGatherTimeoutMs: int(0, 10000),
        iceServers: z.array(z.object({ urls: z.union([z.string(), z.array(z.string())]), username: z.string().optional(), credential: z.string().optional() }).strict()),
        icePortRange: z.tuple([int(1024, 65535), int(1024, 65535)]).optional(),
        nativeFanout: z.enum(['auto', 'off']),
      })
      .strict(),
    limits: z
      .object({
        sdpBytes: int(512, 1024 * 1024),
        sdpLines: int(20, 100_000),
        controlMessageBytes: int(64, 1024 * 1024),
        controlMessagesPerSecond: int(1, 10_000),
        faceMessagesPerSecond: int(1, 1000),
      })
      .strict(),
    log: z.object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']) }).strict(),
    pool: z
      .object({
        processes: int(0, 64),
        restartDelayMs: int(0, 600_000),
        /** Set by the front door in each media process it starts (not for config files). */
        member: z.object({ index: int(0, 63), cores: z.number().positive() }).strict().optional(),
      })
      .strict(),
  })
  .strict();

/** Validated, frozen server configuration. */
export type Config = z.infer<typeof ConfigSchema>;

/** A configuration that failed validation; `message` lists every bad field. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Default config file, relative to the project root. */
export const DEFAULT_CONFIG_PATH = new URL('../configs/default.yaml', import.meta.url);

/** Deep-merge plain objects (arrays and scalars replace). */
function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (base && over && typeof base === 'object' && typeof over === 'object' && !Array.isArray(base) && !Array.isArray(over)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(over as Record<string, unknown>)) out[k] = merge(out[k], v);
    return out;
  }
  return over;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Validate a raw config object; throws ConfigError naming each bad field and what is allowed. */
export function validateConfig(raw: unknown, source = 'config'): Config {
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const path = i.path.join('.') || '(root)';
      return `${path}: ${i.message}`;
    });
    throw new ConfigError(`invalid ${source}:\n  ${lines.join('\n  ')}`);
  }
  const c = result.data;
  const problems: string[] = [];
  if (c.webrtc.icePortRange && c.webrtc.icePortRange[0] > c.webrtc.icePortRange[1]) problems.push('webrtc.icePortRange: first port must be <= second');
  const m = c.motion;
  if (m.features === 'wav2vec' && !m.wav2vecPath) problems.push('motion.wav2vecPath: required when motion.features is wav2vec');
  if (m.audio2mesh === 'onnx' && !m.audio2meshPath) problems.push('motion.audio2meshPath: required when motion.audio2mesh is onnx');
  if (m.audio2pose === 'onnx' && !m.audio2posePath) problems.push('motion.audio2posePath: required when motion.audio2pose is onnx');
  if (m.features === 'wav2vec' && m.audio2mesh !== 'onnx' && m.audio2pose === 'embedded') {
    problems.push('motion.features: wav2vec features need an ONNX audio2mesh or audio2pose (the embedded and learned models read log-mel)');
  }
  const n = c.renderer.neural;
  if (c.renderer.engine === 'neural') {
    if (n.contextFrames > n.chunkFrames) problems.push('renderer.neural.contextFrames: must be <= renderer.neural.chunkFrames');
    if (c.video.width % 8 || c.video.height % 8) problems.push('video.width/height: must be multiples of 8 for the neural renderer');
  }
  if (problems.length) throw new ConfigError(`invalid ${source}:\n  ${problems.join('\n  ')}`);
  return deepFreeze(c);
}

/**
 * Load the default config, overlay the file at `path` (if given) and `overrides`, validate, freeze.
 * A partial file is fine: missing fields come from configs/default.yaml.
 */
export function loadConfig(path?: string, overrides: unknown = {}): Config {
  const base = parseYaml(readFileSync(DEFAULT_CONFIG_PATH, 'utf8')) as unknown;
  let file: unknown = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
    }
    try {
      file = parseYaml(text) ?? {};
    } catch (e) {
      throw new ConfigError(`config file ${path} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return validateConfig(merge(merge(base, file), overrides), path ?? 'config');
}
