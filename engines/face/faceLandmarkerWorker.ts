// Worker thread: runs @vladmandic/human (tfjs wasm backend) so face detection never blocks the caller's event loop.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import type { DetectRequest, WorkerReply } from './faceLandmarkerProtocol.ts';

const MESH_POINTS = 468;
/** Images are upscaled toward this longest side (by a whole factor up to MAX_UPSCALE) before detection, px. */
const UPSCALE_TO = 2048;
const MAX_UPSCALE = 4;
const port = parentPort!;
const { humanPath, wasmDir, modelDir } = workerData.data as { humanPath: string; wasmDir: string; modelDir: string };

// Human loads its models and the wasm binaries with fetch(); Node's fetch cannot read file:// URLs.
const platformFetch = globalThis.fetch;
globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  if (!url.startsWith('file://')) return platformFetch(input, init);
  const body = await readFile(fileURLToPath(url));
  const type = url.endsWith('.json') ? 'application/json' : url.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream';
  return new Response(body, { status: 200, headers: { 'content-type': type } });
}) as typeof fetch;

const { Human } = createRequire(import.meta.url)(humanPath);
const human = new Human({
  backend: 'wasm',
  wasmPath: wasmDir,
  modelBasePath: modelDir,
  debug: false,
  async: true,
  warmup: 'none',
  cacheSensitivity: 0,
  face: {
    enabled: true,
    detector: { rotation: true, maxDetected: 5, minConfidence: 0.4, return: false },
    mesh: { enabled: true },
    iris: { enabled: true },
    attention: { enabled: false },
    emotion: { enabled: false },
    description: { enabled: false },
    antispoof: { enabled: false },
    liveness: { enabled: false },
  },
  body: { enabled: false },
  hand: { enabled: false },
  object: { enabled: false },
  gesture: { enabled: false },
  segmentation: { enabled: false },
  filter: { enabled: false },
});
const ready: Promise<void> = human.load();

interface HumanFace {
  box: [number, number, number, number];
  score: number;
  meshRaw: [number, number, number][];
}

async function detect(req: DetectRequest): Promise<WorkerReply> {
  await ready;
  const { width, height, rgba } = req;
  const rgb = new Float32Array(width * height * 3);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    rgb[i] = rgba[j]!;
    rgb[i + 1] = rgba[j + 1]!;
    rgb[i + 2] = rgba[j + 2]!;
  }
  const tensor = human.tf.tensor3d(rgb, [height, width, 3], 'float32');
  // Human truncates its landmarks to whole pixels of the image it is given (a closed mouth's inner lips then
  // collapse onto one row): small images are upscaled first so that the landmarks keep sub-pixel precision.
  const up = Math.max(1, Math.min(MAX_UPSCALE, Math.floor(UPSCALE_TO / Math.max(width, height))));
  const input = up > 1 ? human.tf.image.resizeBilinear(tensor, [height * up, width * up], false, true) : tensor;
  try {
    const result = await human.detect(input);
    const faces = (result.face as HumanFace[]).filter((f) => f.meshRaw.length >= MESH_POINTS).map((f) => {
      const landmarks = new Float32Array(MESH_POINTS * 2);
      // meshRaw is the truncated mesh over the input size: +0.5 input px centres the truncation's error.
      for (let k = 0; k < MESH_POINTS; k++) {
        landmarks[2 * k] = (f.meshRaw[k]![0] * width * up + 0.5) / up;
        landmarks[2 * k + 1] = (f.meshRaw[k]![1] * height * up + 0.5) / up;
      }
      const [x, y, w, h] = f.box;
      return { box: { x: x / up, y: y / up, width: w / up, height: h / up }, score: f.score, landmarks };
    });
    return { id: req.id, faces };
  } finally {
    if (input !== tensor) input.dispose();
    tensor.dispose();
  }
}

port.on('message', (req: DetectRequest) => {
  detect(req).then(
    (reply) => port.postMessage(reply, reply.faces?.map((f) => f.landmarks.buffer as ArrayBuffer) ?? []),
    (err: unknown) => port.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) } satisfies WorkerReply),
  );
});
