import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AvatarClient } from '../../loadtest/AvatarClient.ts';
import { startServer, type RunningServer } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { writeTinyNeuralGraphs } from '../../tools/make-test-graphs.ts';
import { decodeFrames, speech48k } from '../helpers/media.ts';

const graphsDir = mkdtempSync(join(tmpdir(), 'neural-graphs-'));
writeTinyNeuralGraphs(graphsDir);

const neuralConfig = (dir: string) =>
  loadConfig(undefined, {
    server: { port: 0, host: '127.0.0.1' },
    log: { level: 'warn' },
    reference: { cacheDir: '' },
    renderer: { engine: 'neural', workers: 1, neural: { graphsDir: dir, steps: 2, chunkFrames: 4, contextFrames: 2 } },
  });

describe('neural Lmk2Video engine in a live session (tiny generated graphs, CPU provider)', { timeout: 120_000 }, () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer(neuralConfig(graphsDir));
  });
  after(async () => {
    await server?.close();
  });

  test('a session driven by the neural engine streams decodable 512x512 frames over WebRTC', async () => {
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as { renderer: string };
    assert.equal(health.renderer, 'neural');
    const client = new AvatarClient({ baseUrl: server.url, audio: await speech48k({ seconds: 6 }), keepFrames: true, codec: 'both' });
    await client.connect();
    await client.waitForConnected();
    await client.waitForFrames(24, 30_000);
    const stats = server.sessions.get(client.id!).stats();
    await client.close();
    assert.ok(stats.renderMsAvg > 0, 'frames were rendered');
    const decoded = await decodeFrames(client.frames, 'h264');
    assert.ok(decoded.length >= 20, `decoded ${decoded.length} frames`);
    for (const d of decoded) assert.deepEqual([d.width, d.height], [512, 512]);
    // Not a copy of one frame: the landmarks drive the picture.
    const distinct = new Set(decoded.map((d) => d.luma.subarray(0, 512 * 512).reduce((a, b) => (a * 31 + b) >>> 0, 7)));
    assert.ok(distinct.size > 5, `${distinct.size} distinct frames`);
  });

  test('a second session with the same portrait reuses the cached ReferenceNet features (seen in /metrics)', async () => {
    const client = new AvatarClient({ baseUrl: server.url, audio: await speech48k({ seconds: 3 }), codec: 'both' });
    await client.connect();
    await client.waitForConnected();
    await client.waitForFrames(8, 30_000);
    await client.close();
    await new Promise((r) => setTimeout(r, 2500)); // workers report engine counters every 2 s
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^avatar_neural_${name} (\\d+)`, 'm').exec(metrics)?.[1]);
    assert.equal(value('reference_cache_misses'), 1, 'reference_net ran once for the portrait');
    assert.ok(value('reference_cache_hits') >= 1, 'the second session hit the cache');
    assert.ok(value('reference_cache_bytes') > 0);
    assert.ok(value('batches') > 0);
  });
});

test('a graph that breaks the contract stops the server at start, naming the file', async () => {
  const bad = mkdtempSync(join(tmpdir(), 'neural-bad-'));
  writeTinyNeuralGraphs(bad);
  copyFileSync(join(bad, 'vae_decoder.onnx'), join(bad, 'denoise_unet.onnx'));
  await assert.rejects(startServer(neuralConfig(bad)), (err: Error) => {
    assert.match(err.message, /denoise_unet\.onnx/);
    assert.match(err.message, /expected/i);
    return true;
  });
});

test('a missing graphs folder is a clear start-up error', async () => {
  await assert.rejects(startServer(neuralConfig(join(tmpdir(), 'no-such-neural-dir'))), /reference_net\.onnx/);
});
