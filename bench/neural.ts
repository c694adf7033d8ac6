// Neural renderer cost by stage with the tiny contract graphs (tools/make-test-graphs.ts) on the chosen
// device: reference_net once per portrait, then per batch of chunks pose_guider, each UNet step, VAE.
import { CANONICAL_VERTICES } from '../engines/motion/canonicalMesh.ts';
import type { Device } from '../engines/onnx/executionProviders.ts';
import { NeuralRenderer } from '../engines/render/neural/NeuralRenderer.ts';
import type { ReferencePortrait, RenderRequest } from '../engines/types.ts';
import { buildTinyNeuralGraphs } from '../tools/make-test-graphs.ts';
import { printTable } from './stats.ts';

/** Options of benchNeural. */
export interface NeuralBenchOptions {
  /** Frame size, px. Default 512. */
  size?: number;
  /** Sessions batched together, one row each. Default [1, 4, 8]. */
  batches?: number[];
  /** LCM steps. Default 4. */
  steps?: number;
  /** New frames per chunk. Default 4. */
  chunkFrames?: number;
  /** Motion-context frames. Default 2. */
  contextFrames?: number;
  /** Timed rounds per batch size (after one warm-up). Default 5. */
  rounds?: number;
  /** Default 'cpu'. */
  device?: Device;
  /** Graph files; default: the tiny generated graphs (only these are known to exist here). */
  graphs?: Parameters<typeof NeuralRenderer.create>[0]['graphs'];
}

/** One row per batch size; every ms value is per frame except referenceMs (once per portrait). */
export interface NeuralBenchRow {
  sessions: number;
  provider: string;
  framesPerBatch: number;
  referenceMs: number;
  poseGuiderMs: number;
  unetStepMs: number[];
  vaeMs: number;
  hostMs: number;
  totalMs: number;
  framesPerSecond: number;
  /** Wall time from submitting a chunk to getting its frames, ms (the chunk's render latency). */
  chunkLatencyMs: number;
}

function landmarks(size: number, shift: number): Float32Array {
  const lm = new Float32Array(936);
  for (let i = 0; i < 468; i++) {
    lm[2 * i] = size / 2 + CANONICAL_VERTICES[3 * i]! * (size / 25) + shift;
    lm[2 * i + 1] = size / 2 - CANONICAL_VERTICES[3 * i + 1]! * (size / 25);
  }
  return lm;
}

function portrait(size: number, seed: number): ReferencePortrait {
  const data = new Uint8Array(size * size * 4);
  for (let i = 0; i < data.length; i++) data[i] = (i % 4 === 3 ? 255 : (i * 13 + seed * 71) & 255);
  return { id: `bench-${seed}`, image: { width: size, height: size, data }, landmarks: landmarks(size, 0) };
}

const r2 = (v: number) => Math.round(v * 100) / 100;

/** Run the bench, print the table, return the rows. */
export async function benchNeural(opts: NeuralBenchOptions = {}): Promise<NeuralBenchRow[]> {
  const { size = 512, batches = [1, 4, 8], steps = 4, chunkFrames = 4, contextFrames = 2, rounds = 5, device = 'cpu' } = opts;
  const graphs = opts.graphs ?? buildTinyNeuralGraphs({ size });
  const rows: NeuralBenchRow[] = [];
  for (const B of batches) {
    const r = await NeuralRenderer.create({ graphs, width: size, height: size, device, steps, chunkFrames, contextFrames, maxBatch: B });
    try {
      const refs = Array.from({ length: B }, (_, i) => portrait(size, i));
      let referenceMs = 0;
      for (const p of refs) {
        await r.prepare(p);
        referenceMs += r.stats().last.referenceMs;
      }
      const streams = refs.map((p, i) => r.openStream(p.id, { seed: i }));
      const chunk = (id: string, round: number): RenderRequest[] =>
        Array.from({ length: chunkFrames }, (_, k) => ({ referenceId: id, landmarks: landmarks(size, Math.sin(round + k) * 4), frameIndex: round * chunkFrames + k, mouthOpen: 0 }));
      const acc = { pose: 0, unet: new Array<number>(steps).fill(0), vae: 0, host: 0, wall: 0 };
      for (let round = 0; round <= rounds; round++) {
        const t0 = performance.now();
        await Promise.all(streams.map((s, i) => s.renderChunk(chunk(refs[i]!.id, round))));
        const wall = performance.now() - t0;
        const last = r.stats().last;
        if (last.batch !== B) throw new Error(`expected one batch of ${B} chunks, got ${last.batch}`);
        if (round === 0) continue; // warm-up
        acc.pose += last.poseGuiderMs;
        last.unetStepMs.forEach((ms, i) => (acc.unet[i]! += ms));
        acc.vae += last.vaeMs;
        acc.host += last.hostMs;
        acc.wall += wall;
      }
      const frames = B * chunkFrames * rounds;
      rows.push({
        sessions: B,
        provider: r.provider,
        framesPerBatch: B * chunkFrames,
        referenceMs: r2(referenceMs / B),
        poseGuiderMs: r2(acc.pose / frames),
        unetStepMs: acc.unet.map((ms) => r2(ms / frames)),
        vaeMs: r2(acc.vae / frames),
        hostMs: r2(acc.host / frames),
        totalMs: r2(acc.wall / frames),
        framesPerSecond: r2((frames * 1000) / acc.wall),
        chunkLatencyMs: r2(acc.wall / rounds),
      });
    } finally {
      await r.dispose();
    }
  }
  console.log(`neural renderer, tiny contract graphs, ${size}x${size}, ${steps} LCM steps, chunks of ${chunkFrames} (+${contextFrames} context), device ${device}; ms per frame except reference (once per portrait)`);
  printTable(
    rows.map((row) => ({
      sessions: row.sessions,
      provider: row.provider,
      'reference (once)': row.referenceMs,
      pose_guider: row.poseGuiderMs,
      ...Object.fromEntries(row.unetStepMs.map((ms, i) => [`unet step ${i + 1}`, ms])),
      vae: row.vaeMs,
      host: row.hostMs,
      'total/frame': row.totalMs,
      'frames/s': row.framesPerSecond,
      'chunk ms': row.chunkLatencyMs,
    })),
  );
  return rows;
}

if (process.argv[1]?.endsWith('bench/neural.ts')) await benchNeural();
