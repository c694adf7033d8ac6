import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const int = (min: number, max: number) => z.number().int().min(min).max(max);

const ConfigSchema = z
  .object({
    server: z.object({ host: z.string().min(1), port: int(0, 65535) }).strict(),
    video: z
      .object({
        width: int(64, 1920).refine((v) => v % 2 === 0, 'must be even'),
        height: int(64, 1920).refine((v) => v % 2 === 0, 'must be even'),
        fps: int(1, 60),
        codec: z.enum(['h264', 'vp8']),
        bitrateKbps: int(50, 20000),
        keyframeIntervalS: z.number().min(0.5).max(60),
        mtu: int(300, 1400),
      })
      .strict(),
    audio: z.object({ jitterBufferMs: int(0, 1000), idleFillMs: int(60, 5000) }).strict(),
    pipeline: z.object({ seed: int(0, 2 ** 31 - 1) }).strict(),
    renderer: z
      .object({ engine: z.enum(['warp']), workers: int(1, 64), maxQueueFrames: int(1, 30) })
      .strict(),
    reference: z
      .object({
        default: z.string().min(1),
        cacheDir: z.string(),
        memoryEntries: int(1, 10000),
        maxBytes: int(1024, 200 * 1024 * 1024),
        maxPixels: int(4096, 400_000_000),
      })
      .strict(),
    sessions: z.object({ max: int(1, 1000) }).strict(),
    webrtc: z
      .object({
        additionalHostAddresses: z.array(z.string()),
        stunGatherTimeoutMs: int(0, 10000),
        iceServers: z.array(z.object({ urls: z.union([z.string(), z.array(z.string())]), username: z.string().optional(), credential: z.string().optional() }).strict()),
        icePortRange: z.tuple([int(1024, 65535), int(1024, 65535)]).optional(),
      })
      .strict(),
    limits: z.object({ sdpBytes: int(512, 1024 * 1024) }).strict(),
    log: z.object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']) }).strict(),
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
  if (c.webrtc.icePortRange && c.webrtc.icePortRange[0] > c.webrtc.icePortRange[1]) {
    throw new ConfigError(`invalid ${source}:\n  webrtc.icePortRange: first port must be <= second`);
  }
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
