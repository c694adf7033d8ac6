/**
 * Fuzz (bounded, loopback only): random and mutated SDP bodies, malformed STUN/RTP/RTCP/DTLS datagrams to
 * the media port, malformed and bomb images, malformed and rapid control messages. After every round a
 * healthy session must still be connected and have streamed at the configured frame rate (within 15%),
 * and GET /healthz must answer 200. Replay a failure with FUZZ_SEED=<seed printed in the message>.
 * No traffic leaves 127.0.0.1: the base offer is gathered without STUN servers and only its loopback
 * candidates are kept, and no mutation can introduce another candidate address.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readFile, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import type { RTCDataChannel } from 'werift';
import { AvatarClient } from '../../loadtest/AvatarClient.ts';
import { startServer, type RunningServer } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import {
  Rng,
  controlCases,
  datagramCases,
  imageCases,
  loopbackCandidatePorts,
  sdpCases,
} from '../helpers/fuzz.ts';
import { speech48k } from '../helpers/media.ts';
import { makeOffer } from '../helpers/offer.ts';

const PORTRAIT = new URL('../../assets/portraits/astronaut.png', import.meta.url);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 0x7fffffff;
/** The healthy session's frame rate must stay within this share of the configured one over each round. */
const FPS_TOLERANCE = 0.15;
/** Rounds shorter than this are padded, so the fps measurement spans enough frames (ms). */
const MIN_ROUND_MS = 2500;
const IMAGE_MAX_BYTES = 2_000_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe(`fuzz: a healthy session keeps streaming through bad input [seed:${SEED}]`, { timeout: 150_000 }, () => {
  let server: RunningServer;
  let healthy: AvatarClient;
  let fps = 25;
  const serverErrors: string[] = [];
  const controlReplies = new Map<string, number>();

  before(async () => {
    const config = loadConfig(undefined, {
      server: { port: 0, host: '127.0.0.1' },
      log: { level: 'warn' },
      reference: { cacheDir: '', maxBytes: IMAGE_MAX_BYTES },
    });
    fps = config.video.fps;
    server = await startServer(config);
    healthy = new AvatarClient({
      baseUrl: server.url,
      audio: await speech48k({ seconds: 10 }),
      loop: true,
      onMessage: (m) => controlReplies.set(m.type, (controlReplies.get(m.type) ?? 0) + 1),
    });
    await healthy.connect();
    await healthy.waitForConnected();
    await healthy.waitForFrames(fps, 10_000);
  });
  after(async () => {
    await healthy?.close();
    await server?.close();
  });

  /** Run `work` as one fuzz round, then check the healthy session, /healthz and the process. */
  async function round(name: string, work: () => Promise<void>): Promise<void> {
    const f0 = healthy.getStats().frames;
    const t0 = performance.now();
    await work();
    const spent = performance.now() - t0;
    if (spent < MIN_ROUND_MS) await sleep(MIN_ROUND_MS - spent);
    const f1 = healthy.getStats().frames;
    const seconds = (performance.now() - t0) / 1000;
    const measured = (f1 - f0) / seconds;
    const health = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5000) });
    await health.body?.cancel();
    const sessionStats = server.sessions.get(healthy.id!).stats();
    const c = healthy.getStats();
    const summary =
      `[round:${name}, seed:${SEED}, fps:${measured.toFixed(1)}, frames:${f1 - f0}, s:${seconds.toFixed(1)}, ` +
      `server:{sent:${sessionStats.framesSent}, dropped:${sessionStats.framesDropped}, audioPackets:${sessionStats.audioPacketsReceived}}, ` +
      `client:{frames:${c.frames}, videoPackets:${c.videoPackets}, missing:${c.videoPacketsMissing}, incomplete:${c.incompleteFrames}, frameMessages:${c.frameMessages}, maxGapMs:${Math.round(c.maxFrameGapMs)}}]`;
    assert.equal(health.status, 200, `/healthz ${summary}`);
    assert.equal(healthy.connectionState, 'connected', `healthy client state ${summary}`);
    assert.equal(sessionStats.state, 'connected', `healthy server session state ${summary}`);
    assert.ok(Math.abs(measured - fps) <= fps * FPS_TOLERANCE, `healthy session frame rate off ${summary}`);
  }

  test('a. ~200 random and mutated SDP offers -> 4xx (or 201, deleted at once), never 5xx', async () => {
    const rng = new Rng(SEED);
    const cases = sdpCases(await makeOffer(), rng, 200);
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    const failedBodies: string[] = [];
    await round('sdp', async () => {
      for (const [i, c] of cases.entries()) {
        const headers: Record<string, string> = {};
        if (c.contentType !== null) headers['content-type'] = c.contentType;
        let res: Response;
        try {
          res = await fetch(`${server.url}/v1/sessions`, { method: 'POST', headers, body: c.body, signal: AbortSignal.timeout(10_000) });
        } catch (error) {
          failures.push(`#${i} ${c.name}: request failed: ${(error as Error).message}`);
          continue;
        }
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 201) {
          const location = res.headers.get('location');
          if (!location) failures.push(`#${i} ${c.name}: 201 without Location`);
          else {
            const del = await fetch(new URL(location, server.url), { method: 'DELETE' });
            await del.body?.cancel();
            if (del.status !== 204) failures.push(`#${i} ${c.name}: DELETE ${location} -> ${del.status}`);
          }
        } else if (res.status < 400 || res.status >= 500) {
          failures.push(`#${i} ${c.name}: ${res.status} ${text.slice(0, 120)} [bodyBytes:${c.body.length}]`);
          failedBodies.push(c.body.toString('latin1'));
        } else if (!/"error"/.test(text)) {
          failures.push(`#${i} ${c.name}: ${res.status} without a JSON error: ${text.slice(0, 100)}`);
        }
        // Let the healthy session's timers breathe between requests (one core is the media loop).
        if (i % 10 === 9) await sleep(5);
      }
    });
    const counts = [...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(' ');
    serverErrors.push(...failures);
    if (process.env.FUZZ_DUMP && failedBodies.length) {
      await writeFile(process.env.FUZZ_DUMP, JSON.stringify(failures.map((f, k) => ({ case: f, body: failedBodies[k] })), null, 1));
    }
    assert.deepEqual(failures, [], `status counts ${counts} (FUZZ_DUMP=file.json writes the failing bodies)`);
    assert.ok((statuses.get(201) ?? 0) >= 1, `the unmutated offer is accepted [counts:${counts}]`);
    // Every accepted one was deleted; only the healthy session is left.
    await sleep(200);
    assert.equal(server.sessions.size, 1, 'sessions left after the SDP round');
  });

  test('b. malformed STUN/RTP/RTCP/DTLS and random datagrams to the media port', async () => {
    const answer = healthy.answerSdp;
    assert.ok(answer, 'client kept the SDP answer');
    const ports = loopbackCandidatePorts(answer);
    assert.ok(ports.length > 0, `a 127.0.0.1 host candidate in the answer:\n${answer}`);
    const ufrag = /a=ice-ufrag:(\S+)/.exec(answer)?.[1] ?? 'x';
    const rng = new Rng(SEED + 1);
    const datagrams = datagramCases(rng, 2500, ufrag);
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    const kinds = new Map<string, number>();
    let sendErrors = 0;
    try {
      await round('udp', async () => {
        // Bursts of 50 datagrams every 10 ms: ~5000 packets/s for about half a second per port.
        for (let i = 0; i < datagrams.length; i += 50) {
          for (const d of datagrams.slice(i, i + 50)) {
            kinds.set(d.kind, (kinds.get(d.kind) ?? 0) + 1);
            for (const port of ports) {
              socket.send(d.data, port, '127.0.0.1', (err) => {
                if (err) sendErrors++;
              });
            }
          }
          await sleep(10);
        }
      });
    } finally {
      socket.close();
    }
    assert.ok(kinds.size >= 20, `variety of datagrams [kinds:${kinds.size}, sendErrors:${sendErrors}]`);
  });

  test('c. truncated, corrupted, bomb, oversized and random images -> 4xx quickly, never 5xx', async (t) => {
    const png = await readFile(PORTRAIT);
    const jpeg = await sharp(png).jpeg({ quality: 80 }).toBuffer();
    const rng = new Rng(SEED + 2);
    const cases = imageCases(png, jpeg, rng, IMAGE_MAX_BYTES);
    const failures: string[] = [];
    const slow: string[] = [];
    const accepted: string[] = [];
    await round('images', async () => {
      for (const c of cases) {
        const headers: Record<string, string> = {};
        if (c.contentType !== null) headers['content-type'] = c.contentType;
        const t0 = performance.now();
        let res: Response;
        try {
          res = await fetch(`${server.url}/v1/references`, { method: 'POST', headers, body: c.body, signal: AbortSignal.timeout(15_000) });
        } catch (error) {
          // The server may close the connection early on an oversized body; that is a refusal, not a crash.
          if (c.name.startsWith('oversized') && /fetch failed|other side closed|ECONNRESET|EPIPE/i.test(String((error as Error).cause ?? error))) continue;
          failures.push(`${c.name}: request failed: ${(error as Error).message} ${String((error as Error).cause ?? '')}`);
          continue;
        }
        const text = await res.text();
        const ms = performance.now() - t0;
        const ok = [400, 413, 415, 422].includes(res.status) || (c.mayDecode && res.status === 201);
        if (!ok) failures.push(`${c.name}: ${res.status} ${text.slice(0, 160)}`);
        else if (res.status === 201) accepted.push(c.name);
        if (ms > 3000) slow.push(`${c.name}: ${Math.round(ms)} ms`);
      }
    });
    serverErrors.push(...failures);
    assert.deepEqual(failures, []);
    assert.deepEqual(slow, [], 'every rejection within 3 s');
    t.diagnostic(`images: ${cases.length} cases, still-decodable ones accepted: ${accepted.join(', ') || 'none'}`);
  });

  test('d. oversized, malformed and rapid control messages on the data channel', async (t) => {
    // The client's channel is private (it only sends well-formed messages); fuzzing needs the raw one.
    const channel = (healthy as unknown as { channel: RTCDataChannel | null }).channel;
    assert.ok(channel && channel.readyState === 'open', 'control channel open');
    const rng = new Rng(SEED + 3);
    const errorsBefore = controlReplies.get('error') ?? 0;
    let sendFailures = 0;
    const send = (data: string | Buffer) => {
      try {
        channel.send(data);
      } catch {
        sendFailures++;
      }
    };
    await round('control', async () => {
      for (const c of controlCases(rng)) {
        send(c.data);
        await sleep(5);
      }
      // Rapid burst: 2000 messages in about 1 s (pose/expression, some garbage). No `clear` here: each one
      // legitimately drops the queued frames, which would blur what this round measures.
      for (let batch = 0; batch < 40; batch++) {
        for (let k = 0; k < 50; k++) {
          const n = batch * 50 + k;
          if (n % 7 === 0) send(rng.bytes(rng.int(1, 64)));
          else if (n % 2 === 0) send(JSON.stringify({ type: 'pose', yaw: rng.int(-40, 40), pitch: rng.int(-40, 40), roll: rng.int(-40, 40) }));
          else send(JSON.stringify({ type: 'expression', scale: rng.next() * 3 }));
        }
        await sleep(25);
      }
      send(JSON.stringify({ type: 'pose', reset: true }));
      send(JSON.stringify({ type: 'expression', scale: 1 }));
    });
    const errors = (controlReplies.get('error') ?? 0) - errorsBefore;
    // Informational: error replies may be rate limited or dropped; streaming is what is asserted.
    t.diagnostic(`control: ${errors} error replies, ${sendFailures} client-side send failures`);
    assert.equal(server.sessions.size, 1);
  });

  test('the process is still up and nothing answered 5xx', async () => {
    assert.deepEqual(serverErrors, []);
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { sessions: number };
    assert.equal(body.sessions, 1);
  });
});
