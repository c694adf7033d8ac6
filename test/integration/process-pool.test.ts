/**
 * A process pool: one HTTP port in front of 2 media processes (each its own werift, workers and CPU budget). Sessions
 * are placed by free capacity, every URL of a session reaches its owner (HTTP, WHEP, WebSocket), lists, health and
 * metrics cover all processes, and a media process that dies ends only its own sessions and comes back.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AvatarClient } from '../../loadtest/AvatarClient.ts';
import { VoiceAgentClient } from '../../loadtest/VoiceAgentClient.ts';
import { WhepViewer } from '../../loadtest/WhepViewer.ts';
import { loadConfig } from '../../server/config.ts';
import { startFrontDoor, type RunningFrontDoor } from '../../server/pool/FrontDoor.ts';
import { speech48k } from '../helpers/media.ts';
import sharp from 'sharp';

const PORTRAIT = new URL('../../assets/portraits/astronaut.png', import.meta.url).pathname;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Frames received per second over `ms`, after the stream has run for a second. */
async function fpsOver(client: AvatarClient, ms: number): Promise<number> {
  const before = client.getStats().frames;
  await sleep(ms);
  return ((client.getStats().frames - before) * 1000) / ms;
}

async function json<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as T };
}

interface Health {
  status: string;
  sessions: number;
  processes: { process: number; pid: number | null; state: string; restarts: number; sessions?: number }[];
}

describe('process pool: one port, two media processes', { timeout: 240_000 }, () => {
  let dir: string;
  let pool: RunningFrontDoor;
  const clients: AvatarClient[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pool-test-'));
    const configPath = join(dir, 'pool.yaml');
    await writeFile(configPath, 'log:\n  level: warn\npool:\n  processes: 2\n  restartDelayMs: 200\nreference:\n  cacheDir: ""\nsessions:\n  capacityUtilization: 0\n');
    const config = loadConfig(configPath, { server: { port: 0, host: '127.0.0.1' } });
    pool = await startFrontDoor(config, ['--config', configPath], 2);
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await pool?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('two callers are placed on different processes and both get 25 fps through the one port', async () => {
    const audio = await speech48k({ seconds: 10 });
    for (let k = 0; k < 2; k++) {
      const client = new AvatarClient({ baseUrl: pool.url, audio, loop: true, codec: 'both' });
      clients.push(client);
      await client.connect();
      await client.waitForConnected(15_000);
    }
    const ids = clients.map((c) => c.id!);
    assert.deepEqual(ids.map((id) => id.slice(0, 3)).sort(), ['p0-', 'p1-'], `ids ${ids.join(', ')}`);
    await sleep(1000);
    const fps = await Promise.all(clients.map((c) => fpsOver(c, 3000)));
    for (const f of fps) assert.ok(f >= 22, `received ${fps.map((v) => v.toFixed(1)).join(', ')} fps`);

    const list = await json<{ id: string }[]>(`${pool.url}/v1/sessions`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.map((s) => s.id).sort(), [...ids].sort());
    for (const id of ids) assert.equal((await json<{ id: string }>(`${pool.url}/v1/sessions/${id}`)).body.id, id);

    const health = await json<Health>(`${pool.url}/healthz`);
    assert.equal(health.body.status, 'ok');
    assert.deepEqual(health.body.processes.map((p) => [p.process, p.state]), [[0, 'up'], [1, 'up']]);

    const metrics = await (await fetch(`${pool.url}/metrics`)).text();
    assert.match(metrics, /avatar_sessions_active\{process="0"\} 1/);
    assert.match(metrics, /avatar_sessions_active\{process="1"\} 1/);
    assert.match(metrics, /avatar_pool_processes_up 2/);
    assert.equal(metrics.match(/^# TYPE avatar_sessions_active /gm)?.length, 1, 'one family, samples from both processes');
  });

  test("a session's WHEP viewer and a voice agent's WebSocket reach the owning process", async () => {
    const owner = clients[1]!;
    const viewer = new WhepViewer({ baseUrl: pool.url, sessionId: owner.id!, codec: 'both' });
    await viewer.connect();
    await viewer.waitForFrames(25, 15_000);
    await viewer.close();

    const agent = await VoiceAgentClient.connect({ baseUrl: pool.url, sampleRate: 16000 });
    assert.match(agent.session.id, /^p[01]-/);
    await agent.sendPcm(new Int16Array(16000), { speed: 4 });
    assert.ok(agent.bufferedReports.length > 0, 'the owner reported its buffer over the proxied socket');
    assert.ok((await agent.end()) > 0);
    await agent.close({ endSession: true });
  });

  test('a portrait uploaded through the front door is known to every process (a memory-only config shares a temporary disk cache)', async () => {
    const mirrored = await sharp(PORTRAIT).flop().png().toBuffer();
    const up = await json<{ id: string }>(`${pool.url}/v1/references`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: mirrored });
    assert.equal(up.status, 201);
    // Reads go to the processes in turn: both find it.
    for (let k = 0; k < 2; k++) assert.equal((await json<{ id: string }>(`${pool.url}/v1/references/${up.body.id}`)).status, 200);
    for (let k = 0; k < 2; k++) {
      const agent = await VoiceAgentClient.connect({ baseUrl: pool.url, sampleRate: 16000, referenceId: up.body.id });
      await agent.close({ endSession: true });
    }
  });

  test('a media process that dies ends only its own sessions, and is restarted', async () => {
    const [victim, survivor] = clients[0]!.id!.startsWith('p1-') ? [clients[0]!, clients[1]!] : [clients[1]!, clients[0]!];
    const before = (await json<Health>(`${pool.url}/healthz`)).body.processes[1]!;
    process.kill(before.pid!, 'SIGKILL');
    await sleep(500);
    const gone = await json<{ error: string }>(`${pool.url}/v1/sessions/${victim.id}`);
    assert.equal(gone.status, 404);
    assert.match(gone.body.error, /exited/);
    const fps = await fpsOver(survivor, 3000);
    assert.ok(fps >= 22, `the other process's session kept ${fps.toFixed(1)} fps`);

    const deadline = Date.now() + 60_000;
    let after = before;
    while (Date.now() < deadline) {
      after = (await json<Health>(`${pool.url}/healthz`)).body.processes[1]!;
      if (after.state === 'up') break;
      await sleep(250);
    }
    assert.equal(after.state, 'up');
    assert.notEqual(after.pid, before.pid);
    assert.equal(after.restarts, 1);
    assert.match(await (await fetch(`${pool.url}/metrics`)).text(), /avatar_pool_process_restarts_total\{process="1"\} 1/);

    // New sessions are placed on the restarted process again.
    const fresh = new AvatarClient({ baseUrl: pool.url, audio: await speech48k({ seconds: 4 }), codec: 'both' });
    clients.push(fresh);
    await fresh.connect();
    await fresh.waitForConnected(15_000);
    assert.match(fresh.id!, /^p1-/, 'the emptiest process');
    await sleep(1000);
    assert.ok((await fpsOver(fresh, 2000)) >= 22);
  });
});
