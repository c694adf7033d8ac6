import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { loadConfig } from '../../server/config.ts';
import { logger } from '../../server/logger.ts';
import { planMembers, poolSize } from '../../server/pool/FrontDoor.ts';
import { frontDoorRoute, placementOrder, type PlacementCandidate } from '../../server/pool/frontDoorRoutes.ts';
import { MediaProcess } from '../../server/pool/MediaProcess.ts';
import { memberOverrides, watchPlacements } from '../../server/pool/poolMember.ts';
import { PLACEMENT_HEADER, type CapacityReport } from '../../server/pool/poolProtocol.ts';
import { ownerOfSessionId, sessionIdPrefix } from '../../server/pool/sessionIds.ts';

test('session ids name their media process; the front door routes every URL of a session to it', () => {
  const id = `${sessionIdPrefix(3)}0f8e2a4c-1111-4222-8333-944455556666`;
  assert.equal(ownerOfSessionId(id), 3);
  assert.equal(sessionIdPrefix(undefined), '');
  assert.equal(ownerOfSessionId('0f8e2a4c-1111-4222-8333-944455556666'), undefined);
  for (const [method, path] of [
    ['GET', `/v1/sessions/${id}`],
    ['DELETE', `/v1/sessions/${id}`],
    ['POST', `/v1/sessions/${id}/whep`],
    ['DELETE', `/v1/sessions/${id}/whep/abc`],
    ['POST', `/v1/sessions/${id}/control`],
    ['GET', `/v1/sessions/${id}/audio?token=x`],
  ] as const) {
    assert.deepEqual(frontDoorRoute(method, path), { kind: 'owner', index: 3, sessionId: id }, `${method} ${path}`);
  }
  assert.deepEqual(frontDoorRoute('POST', '/v1/sessions?reference=abc'), { kind: 'place' });
  assert.deepEqual(frontDoorRoute('POST', '/v1/whip'), { kind: 'place' });
  assert.deepEqual(frontDoorRoute('GET', '/v1/sessions'), { kind: 'list' });
  assert.deepEqual(frontDoorRoute('GET', '/metrics'), { kind: 'metrics' });
  assert.deepEqual(frontDoorRoute('GET', '/healthz'), { kind: 'health' });
  assert.deepEqual(frontDoorRoute('POST', '/v1/references'), { kind: 'reference' });
  assert.deepEqual(frontDoorRoute('GET', `/view/${id}`), { kind: 'any' }, 'the viewer page is the same everywhere');
  assert.deepEqual(frontDoorRoute('OPTIONS', `/v1/sessions/${id}`), { kind: 'any' });
  assert.deepEqual(frontDoorRoute('GET', '/v1/sessions/no-owner'), { kind: 'owner', index: undefined, sessionId: 'no-owner' });
});

test('placement: most free session slots first (limits follow measured CPU), then free budget; processes that are down are skipped', () => {
  const c = (index: number, over: Partial<PlacementCandidate>): PlacementCandidate => ({
    index,
    up: true,
    sessions: 0,
    limit: 6,
    budgetMsPerS: 850,
    usedMsPerS: 0,
    pending: 0,
    ...over,
  });
  assert.deepEqual(placementOrder([c(0, { sessions: 3 }), c(1, { sessions: 1 }), c(2, { sessions: 2 })]), [1, 2, 0]);
  assert.deepEqual(placementOrder([c(0, { sessions: 1, limit: 2 }), c(1, { sessions: 3, limit: 6 })]), [1, 0], 'a slower process fits fewer');
  assert.deepEqual(placementOrder([c(0, {}), c(1, { pending: 1 })]), [0, 1], 'a burst spreads before reports catch up');
  assert.deepEqual(placementOrder([c(0, { usedMsPerS: 400 }), c(1, { usedMsPerS: 100 })]), [1, 0]);
  assert.deepEqual(placementOrder([c(0, { up: false }), c(1, { sessions: 5 })]), [1]);
  assert.deepEqual(placementOrder([c(0, { sessions: undefined, limit: undefined }), c(1, {})]), [1, 0], 'no report yet: one slot assumed');
});

test('pool size defaults to one process per 2 cores; each gets its share of cores, workers within it, and a port slice', () => {
  const config = loadConfig(undefined, { webrtc: { icePortRange: [40000, 40099] }, renderer: { workers: 2 } });
  assert.equal(config.pool.processes, 0);
  assert.equal(poolSize(config, 2), 1, 'two cores: one process, no front door');
  assert.equal(poolSize(config, 16), 8);
  assert.equal(poolSize(config, 64), 32);
  assert.equal(poolSize(loadConfig(undefined, { pool: { processes: 3 } }), 64), 3);
  const members = planMembers(config, 4, 16);
  assert.deepEqual(members.map((m) => [m.index, m.cores, m.workers]), [[0, 4, 2], [1, 4, 2], [2, 4, 2], [3, 4, 2]]);
  assert.deepEqual(members.map((m) => m.icePortRange), [[40000, 40024], [40025, 40049], [40050, 40074], [40075, 40099]]);
  assert.deepEqual(planMembers(config, 2, 2).map((m) => [m.cores, m.workers]), [[1, 1], [1, 1]]);
  const m = loadConfig(undefined, memberOverrides(members[2]!));
  assert.deepEqual([m.server.host, m.server.port, m.renderer.workers, m.pool.member?.index, m.pool.member?.cores], ['127.0.0.1', 0, 2, 2, 4]);
  assert.deepEqual(m.webrtc.icePortRange, [40050, 40074]);
});

test('a placement counts against its process until a report written after it arrived: a stale report does not hide it', async () => {
  const member = new MediaProcess({ index: 0, cores: 1, workers: 1 }, [], 100, logger);
  const report = (placementsSeen: number, sessions: number, placementsPending = 0): CapacityReport => ({
    sessions,
    limit: 6,
    cpuMsPerSessionS: 0,
    budgetMsPerS: 850,
    usedMsPerS: 0,
    placementsSeen,
    placementsPending,
  });
  member.placementsSent = 1;
  member.report = report(0, 0);
  assert.equal(member.placementsUnseen, 1, 'a report written before the request reached the process');
  member.report = report(1, 0, 1);
  assert.equal(member.placementsUnseen, 0, 'received: the report counts it as pending');
  member.report = report(1, 1);
  assert.equal(member.placementsUnseen, 0);
});

test('a media process counts the placements it receives (the highest number, and those not answered yet); other requests are not placements', async () => {
  const held: (() => void)[] = [];
  const server = createServer((_req, res) => held.push(() => res.end('ok')));
  const placements = watchPlacements(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const send = (headers: Record<string, string>) =>
    new Promise<void>((resolve, reject) => request({ host: '127.0.0.1', port, headers }, (res) => res.resume().on('end', resolve)).on('error', reject).end());
  const answered = [send({ [PLACEMENT_HEADER]: '3' }), send({}), send({ [PLACEMENT_HEADER]: 'x' })];
  while (held.length < 3) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual({ ...placements }, { seen: 3, pending: 1 });
  for (const answer of held) answer();
  await Promise.all(answered);
  assert.deepEqual({ ...placements }, { seen: 3, pending: 0 });
  server.close();
});
