/**
 * The voice-agent WebSocket, WHIP and WHEP endpoints refuse bad input with a status or a close code and a reason,
 * enforce auth and the viewer limit, and a healthy microphone session nearby keeps its frame rate through all of it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { AvatarClient } from '../../loadtest/AvatarClient.ts';
import { startServer, type RunningServer } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { measuredFps } from '../helpers/frameRate.ts';
import { speech48k } from '../helpers/media.ts';
import { makeOffer } from '../helpers/offer.ts';

const FPS = 25;
const TOKEN = 'api-secret';
const VIEWER_TOKEN = 'viewer-secret';
const auth = (token = TOKEN) => ({ authorization: `Bearer ${token}` });

async function call(url: string, init: RequestInit): Promise<{ status: number; error: string; headers: Headers; body: string }> {
  const res = await fetch(url, init);
  const body = await res.text();
  let error = body;
  try {
    error = (JSON.parse(body) as { error?: string }).error ?? body;
  } catch {
    /* not JSON */
  }
  return { status: res.status, error, headers: res.headers, body };
}

/** Open a socket and resolve with how it ended: a close code and reason, or the HTTP status of a refused upgrade. */
function socketOutcome(url: string, headers: Record<string, string>, act: (ws: WebSocket) => void = () => undefined): Promise<{ code?: number; reason?: string; status?: number; messages: string[] }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    const messages: string[] = [];
    ws.on('message', (d, binary) => {
      if (!binary) messages.push(String(d));
    });
    ws.on('open', () => act(ws));
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, messages });
      res.resume();
    });
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString('utf8'), messages }));
    ws.on('error', () => undefined);
  });
}

describe('agent, WHIP and WHEP endpoints: bad input, auth and limits', { timeout: 180_000 }, () => {
  let server: RunningServer;
  let healthy: AvatarClient;
  let wsBase: string;
  const createAgentSession = async (body: object = { source: 'websocket', sampleRate: 16000 }) => {
    const r = await call(`${server.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth() }, body: JSON.stringify(body) });
    assert.equal(r.status, 201, r.error);
    return JSON.parse(r.body) as { id: string; audio: string; whep: string; view: string };
  };

  before(async () => {
    server = await startServer(
      loadConfig(undefined, {
        server: { port: 0, host: '127.0.0.1' },
        log: { level: 'warn' },
        reference: { cacheDir: '' },
        auth: { token: TOKEN },
        viewers: { maxPerSession: 1, token: VIEWER_TOKEN },
        websocket: { maxMessageBytes: 64 * 1024 },
        sessions: { max: 8 },
      }),
    );
    wsBase = server.url.replace(/^http/, 'ws');
    healthy = new AvatarClient({ baseUrl: server.url, token: TOKEN, audio: await speech48k({ seconds: 10 }), loop: true, codec: 'both' });
    await healthy.connect();
    await healthy.waitForConnected();
    await healthy.waitForFrames(25, 10_000);
  });
  after(async () => {
    await healthy?.close();
    await server?.close();
  });

  test('POST /v1/sessions JSON: wrong source, rate or fields -> 422/400 with a reason; 201 names the audio, WHEP and viewer URLs', async () => {
    const post = (body: string, type = 'application/json') => call(`${server.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': type, ...auth() }, body });
    let r = await post('{"source":"websocket","sampleRate":44100}');
    assert.equal(r.status, 422);
    assert.match(r.error, /sampleRate must be one of 16000, 24000, 48000/);
    r = await post('{"source":"carrier-pigeon"}');
    assert.equal(r.status, 422);
    assert.match(r.error, /source must be "websocket"/);
    r = await post('{not json');
    assert.equal(r.status, 400);
    r = await post('{"source":"websocket"}', 'text/plain');
    assert.equal(r.status, 415);
    r = await post(JSON.stringify({ source: 'websocket', sampleRate: 24000 }));
    assert.equal(r.status, 201);
    const created = JSON.parse(r.body) as { id: string; audio: string; whep: string; view: string };
    assert.equal(r.headers.get('location'), `/v1/sessions/${created.id}`);
    assert.deepEqual(created, { ...created, audio: `/v1/sessions/${created.id}/audio`, whep: `/v1/sessions/${created.id}/whep`, view: `/view/${created.id}` });
    assert.equal((await call(`${server.url}/v1/sessions/${created.id}`, { method: 'DELETE', headers: auth() })).status, 204);
  });

  test('audio socket: auth, unknown session, undeclared rate, odd bytes, text, bad fields, too big, a second socket -> refused with a reason', async () => {
    const s = await createAgentSession();
    const url = `${wsBase}${s.audio}`;
    assert.equal((await socketOutcome(url, {})).status, 401, 'no token');
    assert.equal((await socketOutcome(url, auth('wrong'))).status, 401, 'wrong token');
    assert.equal((await socketOutcome(`${wsBase}/v1/sessions/nope/audio`, auth())).status, 404);
    const cases: [string, (ws: WebSocket) => void, number, RegExp][] = [
      ['odd byte count', (ws) => ws.send(Buffer.alloc(3)), 1007, /even number of bytes/],
      ['text that is not JSON', (ws) => ws.send('AAAA//base64 audio?'), 1003, /binary/],
      ['an unknown message type', (ws) => ws.send('{"type":"dance"}'), 1003, /unknown control message type/],
      ['a pose without numbers', (ws) => ws.send('{"type":"pose","yaw":"left"}'), 1007, /pose needs finite numbers/],
      ['a message over the size limit', (ws) => ws.send(Buffer.alloc(128 * 1024)), 1009, /./],
    ];
    for (const [name, act, code, reason] of cases) {
      const out = await socketOutcome(`${url}?token=${TOKEN}`, {}, act);
      assert.equal(out.code, code, `${name}: ${out.code} ${out.reason}`);
      if (code !== 1009) assert.match(out.reason ?? '', reason, name);
    }
    // One socket at a time; the session takes a new one after the first closes.
    const first = new WebSocket(url, { headers: auth() });
    await new Promise((r) => first.once('open', r));
    const second = await socketOutcome(url, auth());
    assert.equal(second.code, 4409);
    assert.match(second.reason ?? '', /already has an audio socket/);
    first.close();
    await new Promise((r) => first.once('close', r));
    const again = await socketOutcome(url, auth(), (ws) => setTimeout(() => ws.close(1000, 'bye'), 200));
    assert.equal(again.code, 1000);
    assert.ok(again.messages.some((m) => JSON.parse(m).type === 'buffered'), 'the server reports what it buffered');

    const undeclared = await createAgentSession({ source: 'websocket' });
    const out = await socketOutcome(`${wsBase}${undeclared.audio}`, auth());
    assert.equal(out.code, 1008);
    assert.match(out.reason ?? '', /sample rate not declared/);
    const declaredByQuery = await socketOutcome(`${wsBase}${undeclared.audio}?sampleRate=48000`, auth(), (ws) => setTimeout(() => ws.close(1000), 200));
    assert.equal(declaredByQuery.code, 1000, 'a rate in the URL is enough');
    for (const id of [s.id, undeclared.id]) assert.equal((await call(`${server.url}/v1/sessions/${id}`, { method: 'DELETE', headers: auth() })).status, 204);
  });

  test('WHIP: wrong type 415, not SDP 400, no audio 422, PATCH 405, bearer required', async () => {
    const whip = (body: string, type = 'application/sdp', headers: Record<string, string> = auth()) =>
      call(`${server.url}/v1/whip`, { method: 'POST', headers: { 'content-type': type, ...headers }, body });
    assert.equal((await whip('v=0', 'text/plain')).status, 415);
    const notSdp = await whip('hello');
    assert.equal(notSdp.status, 400);
    assert.match(notSdp.error, /v=0/);
    const videoOnly = await whip(await makeOffer({ audio: null, video: 'sendonly', dataChannel: false }));
    assert.equal(videoOnly.status, 422);
    assert.match(videoOnly.error, /no audio/);
    const publisherOffer = await makeOffer({ audio: 'sendonly', video: null, dataChannel: false });
    assert.equal((await whip(publisherOffer, 'application/sdp', {})).status, 401);
    assert.equal((await whip(publisherOffer, 'application/sdp', auth(VIEWER_TOKEN))).status, 401, 'the viewer token does not publish');
    const ok = await whip(publisherOffer);
    assert.equal(ok.status, 201, ok.error);
    assert.equal(ok.headers.get('content-type')?.split(';')[0], 'application/sdp');
    const location = ok.headers.get('location')!;
    assert.match(location, /^\/v1\/sessions\/[0-9a-f-]+$/);
    assert.match(ok.body, /a=recvonly/);
    const patch = await call(`${server.url}${location}`, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag', ...auth() }, body: 'a=candidate:1 1 udp 1 127.0.0.1 9 typ host' });
    assert.equal(patch.status, 405);
    assert.equal((await call(`${server.url}${location}`, { method: 'DELETE', headers: auth() })).status, 204);
    assert.equal((await call(`${server.url}${location}`, { method: 'GET', headers: auth() })).status, 404);
  });

  test('WHEP: unknown session 404, codec the session does not send 422, viewer limit 503, viewer token accepted', async () => {
    const s = await createAgentSession();
    const whep = (path: string, body: string, headers: Record<string, string> = auth(VIEWER_TOKEN)) =>
      call(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/sdp', ...headers }, body });
    const viewerOffer = await makeOffer({ audio: 'recvonly', video: 'recvonly', dataChannel: false });
    assert.equal((await whep('/v1/sessions/nope/whep', viewerOffer)).status, 404);
    assert.equal((await whep(s.whep, viewerOffer, {})).status, 401);
    const vp8Only = await whep(s.whep, await makeOffer({ audio: 'recvonly', video: 'recvonly', videoCodecs: 'vp8', dataChannel: false }));
    assert.equal(vp8Only.status, 422);
    assert.match(vp8Only.error, /sends H\.264/);
    const noVideo = await whep(s.whep, await makeOffer({ audio: 'recvonly', video: null, dataChannel: false }));
    assert.equal(noVideo.status, 422);
    const first = await whep(s.whep, viewerOffer);
    assert.equal(first.status, 201, first.error);
    const viewerUrl = first.headers.get('location')!;
    assert.match(viewerUrl, new RegExp(`^/v1/sessions/${s.id}/whep/[0-9a-f-]+$`));
    assert.match(first.body, /a=sendonly/);
    const msids = [...first.body.matchAll(/^a=msid:(\S+) \S+/gm)].map((m) => m[1]);
    assert.deepEqual(msids, [s.id, s.id], 'video and voice in one MediaStream, so browsers lip-sync them');
    const full = await whep(s.whep, viewerOffer);
    assert.equal(full.status, 503);
    assert.match(full.error, /maximum of 1 viewers/);
    assert.equal((await call(`${server.url}${viewerUrl}`, { method: 'PATCH', headers: auth(VIEWER_TOKEN), body: '' })).status, 405);
    assert.equal((await call(`${server.url}${viewerUrl}`, { method: 'DELETE', headers: auth(VIEWER_TOKEN) })).status, 204);
    assert.equal((await call(`${server.url}${viewerUrl}`, { method: 'DELETE', headers: auth(VIEWER_TOKEN) })).status, 404);
    assert.equal((await call(`${server.url}/v1/sessions/${s.id}`, { method: 'DELETE', headers: auth(VIEWER_TOKEN) })).status, 401, 'the viewer token cannot end sessions');
    assert.equal((await call(`${server.url}/v1/sessions/${s.id}`, { method: 'DELETE', headers: auth() })).status, 204);
  });

  test('a session nobody watches renders one frame a second (its clock and voice go on); a viewer brings the full rate back', async () => {
    const s = await createAgentSession();
    const session = server.sessions.get(s.id);
    await new Promise((r) => setTimeout(r, 3000));
    const idle = session.stats();
    assert.ok(idle.audioMs >= 2500, `the clock runs: ${idle.audioMs} ms`);
    assert.ok(idle.framesSent <= 5, `${idle.framesSent} frames rendered for nobody in 3 s`);
    assert.ok(idle.framesShed >= 50, `${idle.framesShed} frames skipped`);
    const viewer = await call(`${server.url}${s.whep}`, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp', ...auth(VIEWER_TOKEN) },
      body: await makeOffer({ audio: 'recvonly', video: 'recvonly', dataChannel: false }),
    });
    assert.equal(viewer.status, 201, viewer.error);
    const sent0 = session.stats().framesSent;
    await new Promise((r) => setTimeout(r, 2000));
    assert.ok(session.stats().framesSent - sent0 >= 40, `with a viewer: ${session.stats().framesSent - sent0} frames in 2 s`);
    assert.equal((await call(`${server.url}/v1/sessions/${s.id}`, { method: 'DELETE', headers: auth() })).status, 204);
  });

  test('the healthy session kept its frame rate through all of it', async () => {
    const fps = await measuredFps(() => healthy.getStats().frames);
    assert.ok(Math.abs(fps - FPS) <= FPS * 0.1, `healthy session at ${fps.toFixed(1)} fps`);
    assert.equal(healthy.connectionState, 'connected');
  });
});
