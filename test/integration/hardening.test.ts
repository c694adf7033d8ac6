import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, describe, test } from 'node:test';
import { AvatarClient, AvatarServerError, type ServerMessage } from '../../loadtest/AvatarClient.ts';
import { startServer, type RunningServer } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import type { Session } from '../../server/session/Session.ts';
import { speech48k } from '../helpers/media.ts';

const FPS = 25;
const base = { server: { port: 0, host: '127.0.0.1' }, log: { level: 'warn' }, reference: { cacheDir: '' } };

/** Clients not closed yet: a failed assertion must not leave one streaming (its timers keep this process alive). */
const openClients = new Set<AvatarClient>();

async function closeOpenClients(): Promise<void> {
  const clients = [...openClients];
  openClients.clear();
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
}

async function withServer(overrides: Record<string, unknown>, fn: (s: RunningServer) => Promise<void>): Promise<void> {
  const merged = { ...base, ...overrides, server: { ...base.server, ...((overrides.server as object) ?? {}) } };
  const server = await startServer(loadConfig(undefined, merged));
  try {
    await fn(server);
  } finally {
    await closeOpenClients();
    await server.close();
  }
}

async function connected(url: string, opts: Partial<ConstructorParameters<typeof AvatarClient>[0]> = {}): Promise<AvatarClient> {
  const c = new AvatarClient({ baseUrl: url, audio: await speech48k({ seconds: 10 }), loop: true, codec: 'both', ...opts });
  openClients.add(c);
  await c.connect();
  await c.waitForConnected();
  await c.waitForFrames(10, 15_000);
  return c;
}

/** Resolves with the reason when the session closes. */
function closeOf(session: Session): Promise<string> {
  return new Promise((resolve) => session.once('close', resolve));
}

/** Frames per second a client receives over `ms`. */
async function rate(c: AvatarClient, ms = 2000): Promise<number> {
  const f0 = c.getStats().frames;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return ((c.getStats().frames - f0) * 1000) / (performance.now() - t0);
}

describe('hardening', { timeout: 180_000, concurrency: false }, () => {
  const children = new Set<ChildProcess>();
  after(async () => {
    await closeOpenClients();
    for (const child of children) child.kill('SIGKILL');
  });

  test('admission: with the limit at 2, the third session gets 503 with Retry-After and the two keep their rate', async () => {
    await withServer({ sessions: { max: 2 } }, async (server) => {
      const a = await connected(server.url);
      const b = await connected(server.url);
      const c = new AvatarClient({ baseUrl: server.url, audio: new Float32Array(48000), codec: 'both' });
      await assert.rejects(c.connect(), (e: unknown) => {
        assert.ok(e instanceof AvatarServerError);
        assert.equal(e.status, 503);
        assert.ok((e.retryAfterS ?? 0) > 0, 'Retry-After');
        assert.match(e.body, /session limit 2/);
        return true;
      });
      await c.close();
      for (const s of [a, b]) assert.ok(Math.abs((await rate(s)) - FPS) <= FPS * 0.15);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /avatar_sessions_rejected_total\{reason="full"\} 1/);
      await a.close();
      await b.close();
    });
  });

  test('an offer whose only candidates are mDNS names, with end-of-candidates (as Firefox sends), connects through the client\'s checks', async () => {
    await withServer({}, async (server) => {
      let n = 0;
      // Every host candidate becomes an unresolvable <uuid>.local name; each m-section ends with end-of-candidates.
      const firefoxLike = (sdp: string): string =>
        sdp
          .replace(/^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host.*)$/gm, (_m, a: string, _addr: string, b: string) => `${a}${(n++).toString(16).padStart(8, '0')}-0000-4000-8000-000000000000.local${b}`)
          .replace(/^a=candidate:.* typ (srflx|relay).*\r?\n/gm, '')
          .replace(/(\r?\nm=)/g, '\r\na=end-of-candidates$1')
          .replace(/\r?\n?$/, '\r\na=end-of-candidates\r\n');
      const c = await connected(server.url, { transformOffer: firefoxLike });
      assert.ok(n > 0, 'the offer had host candidates to hide');
      assert.ok(Math.abs((await rate(c)) - FPS) <= FPS * 0.15);
      await c.close();
    });
  });

  test('auth on: no token -> 401, wrong token -> 401, right token -> 201; health stays open', async () => {
    await withServer({ auth: { token: 's3cret' } }, async (server) => {
      const body = '';
      let r = await fetch(`${server.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body });
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer');
      r = await fetch(`${server.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: 'Bearer nope' }, body });
      assert.equal(r.status, 401);
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
      const c = await connected(server.url, { token: 's3cret' });
      assert.equal(c.connectionState, 'connected');
      await c.close();
    });
  });

  test('CORS: a configured origin is allowed (preflight included), another is not', async () => {
    await withServer({ server: { corsOrigins: ['https://app.example'] } }, async (server) => {
      const pre = await fetch(`${server.url}/v1/sessions`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example');
      const other = await fetch(`${server.url}/v1/references/default`, { headers: { origin: 'https://evil.example' } });
      assert.equal(other.headers.get('access-control-allow-origin'), null);
    });
  });

  test('a failing stage ends only its own session (error event), a session on the same worker is unaffected', async () => {
    await withServer({ renderer: { workers: 1 } }, async (server) => {
      const messages: ServerMessage[] = [];
      const victim = await connected(server.url, { onMessage: (m) => messages.push(m) });
      const bystander = await connected(server.url);
      const closed = closeOf(server.sessions.get(victim.id!));
      server.sessions.get(victim.id!).injectFault('stage');
      const reason = await closed;
      assert.match(reason, /pipeline error: injected stage fault/);
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(messages.some((m) => m.type === 'error' && /injected stage fault/.test(String(m.message))), 'error event on the data channel');
      assert.ok(Math.abs((await rate(bystander)) - FPS) <= FPS * 0.15, 'bystander keeps its rate');
      await victim.close();
      await bystander.close();
    });
  });

  test('a crashing worker ends its sessions with an error, sessions on other workers are unaffected, and it is restarted', async () => {
    await withServer({ renderer: { workers: 2 } }, async (server) => {
      const victim = await connected(server.url);
      const bystander = await connected(server.url); // least-loaded placement puts it on the other worker
      const closed = closeOf(server.sessions.get(victim.id!));
      server.sessions.get(victim.id!).injectFault('worker');
      const reason = await closed;
      assert.match(reason, /render worker \d crashed/);
      assert.ok(Math.abs((await rate(bystander)) - FPS) <= FPS * 0.15, 'bystander keeps its rate');
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /avatar_worker_restarts_total 1/);
      const again = await connected(server.url); // the restarted worker serves new sessions
      assert.ok((await rate(again, 1500)) > FPS * 0.8);
      await Promise.all([victim.close(), bystander.close(), again.close()]);
    });
  });

  test('a session that stops sending audio is ended after the idle timeout', async () => {
    await withServer({ sessions: { idleTimeoutS: 5 } }, async (server) => {
      const c = await connected(server.url);
      const session = server.sessions.get(c.id!);
      const closed = closeOf(session);
      c.pause();
      const reason = await closed;
      assert.match(reason, /idle: no audio for 5 s/);
      await c.close();
    });
  });

  test('a burst of control messages is rate limited and the session keeps streaming', async () => {
    await withServer({}, async (server) => {
      const c = await connected(server.url);
      for (let i = 0; i < 300; i++) c.send({ type: 'expression', scale: 1 });
      // SCTP may spread the burst over a second or more: count once the refusals stop growing.
      const refused = () => server.sessions.get(c.id!).stats().controlMessagesRefused;
      for (let last = -1, k = 0; refused() !== last && k < 20; k++) {
        last = refused();
        await new Promise((r) => setTimeout(r, 500));
      }
      // The bucket holds 50 and refills 50 a second: a burst delivered within 2 s loses at least 150.
      assert.ok(refused() >= 150, `most of the burst was refused: ${refused()} of 300`);
      const fps = await rate(c);
      assert.ok(Math.abs(fps - FPS) <= FPS * 0.15, `the session streams on at ${fps.toFixed(1)} fps ${JSON.stringify(c.getStats())}`);
      await c.close();
    });
  });

  test('SIGTERM: sessions end cleanly and the process exits 0 within the bound', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', '--port', String(port), '--host', '127.0.0.1'], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...process.env, AVATAR_CONFIG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 300 && !out.includes('listening on'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(out.includes('listening on'), `server started: ${out.slice(-500)}`);
    const messages: ServerMessage[] = [];
    const c = await connected(`http://127.0.0.1:${port}`, { onMessage: (m) => messages.push(m) });
    const t0 = performance.now();
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number];
    const took = performance.now() - t0;
    assert.equal(code, 0);
    assert.ok(took < 10_000, `exited in ${took.toFixed(0)} ms`);
    assert.match(out, /shut down cleanly/);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(messages.some((m) => m.type === 'closed' && /shutting down/.test(String(m.reason))), 'client told why');
    await c.close();
  });

  test('closing the server while its workers render and encode never aborts the process; every worker stops on its own', async () => {
    // Terminating a worker inside node-av's encoder or an ONNX run aborted the process (FATAL ERROR napi_throw, or
    // std::terminate from onnxruntime's binding) in roughly one close in twenty under this load, so this run catches
    // that fault only some of the time. A longer run: `node --import tsx test/helpers/closeUnderLoad.ts 100`.
    const cycles = 8;
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/closeUnderLoad.ts', String(cycles)], {
      cwd: new URL('../..', import.meta.url).pathname,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const hung = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    clearTimeout(hung);
    assert.equal(signal, null, `the process was killed by ${signal}: ${out.slice(-1500)}`);
    assert.equal(code, 0, out.slice(-1500));
    assert.match(out, new RegExp(`cycles done: ${cycles}`));
    assert.doesNotMatch(out, /did not stop; terminating it/);
  });
});
