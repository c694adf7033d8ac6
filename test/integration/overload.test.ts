/**
 * Degrade one, not all: a CPU spike (a test hook burns CPU in the render worker for every frame) overloads the
 * machine; the newest session's frame rate is lowered with a message saying so, the oldest keeps its rate, and the
 * load is given back when the spike has passed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AvatarClient, type ServerMessage } from '../../loadtest/AvatarClient.ts';
import { startServer, type RunningServer } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { measuredFps } from '../helpers/frameRate.ts';
import { speech48k } from '../helpers/media.ts';

const SESSIONS = 3;
/** CPU burnt per rendered frame during the spike, ms: three sessions then need more than the one render thread has. */
const SPIKE_MS = 10;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('overload degrades the newest session, not all of them', { timeout: 120_000 }, () => {
  let server: RunningServer;
  const clients: AvatarClient[] = [];
  const messages: ServerMessage[][] = [];
  before(async () => {
    server = await startServer(
      loadConfig(undefined, { server: { port: 0, host: '127.0.0.1' }, log: { level: 'warn' }, reference: { cacheDir: '' }, renderer: { workers: 1 }, sessions: { capacityUtilization: 0 } }),
    );
    const audio = await speech48k({ seconds: 8 });
    for (let i = 0; i < SESSIONS; i++) {
      const inbox: ServerMessage[] = [];
      messages.push(inbox);
      const c = new AvatarClient({ baseUrl: server.url, audio, loop: true, onMessage: (m) => inbox.push(m) });
      clients.push(c);
      await c.connect();
      await c.waitForConnected();
      await c.waitForFrames(25, 10_000);
    }
    await sleep(4000); // past every session's warm-up
  });
  after(async () => {
    server?.sessions.spike(0);
    await Promise.all(clients.map((c) => c.close()));
    await server?.close();
  });

  const got = (i: number, type: string) => messages[i]!.some((m) => m.type === type);

  test('a spike degrades the newest session with a message saying why; the oldest keeps its rate; the spike passing restores it', async () => {
    server.sessions.spike(SPIKE_MS);
    await waitFor('the newest session to be degraded', () => got(SESSIONS - 1, 'degraded'), 20_000);
    const note = messages[SESSIONS - 1]!.find((m) => m.type === 'degraded') as { fps?: unknown; reason?: unknown };
    assert.equal(note.fps, 12.5);
    assert.match(String(note.reason), /overloaded/);
    // Shedding goes on one session per 3 s while drops go on: let it settle before measuring the oldest.
    await waitFor('the shedding to settle', () => got(SESSIONS - 2, 'degraded'), 8_000).catch(() => undefined);
    await sleep(2000);
    const oldest = server.sessions.get(clients[0]!.id!);
    const dropped0 = oldest.stats().framesDropped;
    const oldestFps = await measuredFps(() => clients[0]!.getStats().frames, 3000);
    assert.equal(got(0, 'degraded'), false, 'the oldest session is never shed');
    assert.ok(oldest.stats().framesDropped - dropped0 <= 2, `the oldest session dropped ${oldest.stats().framesDropped - dropped0} frames in 3 s of the spike`);
    assert.ok(oldestFps >= 23, `the oldest session at ${oldestFps.toFixed(1)} fps (client clock) during the spike`);
    const stats = server.sessions.get(clients[SESSIONS - 1]!.id!).stats();
    assert.equal(stats.degraded?.fps, 12.5);
    assert.ok(stats.framesShed > 0);

    server.sessions.spike(0);
    await waitFor('the newest session to be restored', () => got(SESSIONS - 1, 'restored'), 30_000);
    await sleep(1500);
    const newestFps = await measuredFps(() => clients[SESSIONS - 1]!.getStats().frames, 2000);
    assert.ok(newestFps >= 24, `restored to ${newestFps.toFixed(1)} fps`);
  });
});
