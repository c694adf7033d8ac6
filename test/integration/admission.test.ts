/**
 * Admission prices each session: a burst of 12 simultaneous VP8 offers (VP8 costs several times what H.264 does to
 * encode) admits what the CPU budget fits, refuses the rest with 503 + Retry-After, and the admitted keep their rate.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AvatarClient } from '../../loadtest/AvatarClient.ts';
import { AvatarServerError } from '../../loadtest/serverRequests.ts';
import { startServer, type RunningServer } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { measuredFps } from '../helpers/frameRate.ts';
import { speech48k } from '../helpers/media.ts';

const BURST = 12;
/**
 * The test's clients run in this process: their werift peers share the server's main thread and cores, so the server
 * is given half the machine (`npm run loadtest -- --sessions 12 --stagger 0 --codec vp8`, clients in another process,
 * admits 5 at the default 0.85).
 */
const CLIENTS_SHARE_UTILIZATION = 0.5;

describe('priced admission', { timeout: 120_000 }, () => {
  let server: RunningServer;
  const clients: AvatarClient[] = [];
  before(async () => {
    server = await startServer(
      loadConfig(undefined, { server: { port: 0, host: '127.0.0.1' }, log: { level: 'warn' }, reference: { cacheDir: '' }, video: { codec: 'vp8' }, sessions: { max: 20, capacityUtilization: CLIENTS_SHARE_UTILIZATION } }),
    );
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server?.close();
  });

  test(`a burst of ${BURST} VP8 offers: the CPU budget decides who is admitted, the rest get 503 + Retry-After, the admitted keep 24 fps`, async () => {
    const { limit, measured } = server.sessions.capacity();
    assert.equal(measured, false, 'priors decide before anything is measured');
    assert.ok(limit >= 1 && limit < BURST, `the budget fits ${limit} VP8 sessions`);
    const audio = await speech48k({ seconds: 6 });
    const outcomes = await Promise.all(
      Array.from({ length: BURST }, async () => {
        const client = new AvatarClient({ baseUrl: server.url, audio, loop: true, codec: 'vp8' });
        try {
          await client.connect();
          clients.push(client);
          return { admitted: true as const, client };
        } catch (err) {
          await client.close();
          return { admitted: false as const, err };
        }
      }),
    );
    const admitted = outcomes.filter((o) => o.admitted);
    const refused = outcomes.filter((o) => !o.admitted);
    assert.equal(admitted.length, limit, `admitted ${admitted.length}, the budget fits ${limit}`);
    for (const r of refused) {
      const err = (r as { err: unknown }).err;
      assert.ok(err instanceof AvatarServerError, String(err));
      assert.equal(err.status, 503);
      assert.ok((err.retryAfterS ?? 0) > 0, 'Retry-After');
      assert.match(err.body, /vp8 session needs about \d+ ms of CPU a second/);
    }
    for (const c of clients) {
      await c.waitForConnected();
      await c.waitForFrames(25, 15_000);
    }
    const fps = await Promise.all(clients.map((c) => measuredFps(() => c.getStats().frames, 3000)));
    for (const f of fps) assert.ok(f >= 24, `admitted sessions at ${fps.map((v) => v.toFixed(1)).join(', ')} fps`);
  });
});
