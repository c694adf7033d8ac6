import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { VoiceAgentClient } from '../../loadtest/VoiceAgentClient.ts';
import { WhepViewer } from '../../loadtest/WhepViewer.ts';
import { startServer, type RunningServer } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import type { SessionStats } from '../../server/session/Session.ts';

// The addon is built at `npm ci` when libssl-dev is installed (.ci/run installs it): then it must be used.
const expected = existsSync('/usr/include/openssl/evp.h');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sessionStats(server: RunningServer, id: string): Promise<SessionStats> {
  const res = await fetch(`${server.url}/v1/sessions/${id}`);
  assert.equal(res.status, 200);
  return (await res.json()) as SessionStats;
}

async function withServer(nativeFanout: 'auto' | 'off', body: (server: RunningServer, agent: VoiceAgentClient) => Promise<void>): Promise<void> {
  const server = await startServer(loadConfig(undefined, { server: { port: 0, host: '127.0.0.1' }, log: { level: 'warn' }, webrtc: { nativeFanout } }));
  const agent = await VoiceAgentClient.connect({ baseUrl: server.url, sampleRate: 16_000 });
  try {
    await body(server, agent);
  } finally {
    await agent.close({ endSession: true });
    await server.close();
  }
}

describe('WHEP viewers on the native send path', { timeout: 120_000, skip: !expected && 'libssl-dev not installed' }, () => {
  let server: RunningServer;
  let agent: VoiceAgentClient;
  before(async () => {
    server = await startServer(loadConfig(undefined, { server: { port: 0, host: '127.0.0.1' }, log: { level: 'warn' } }));
    agent = await VoiceAgentClient.connect({ baseUrl: server.url, sampleRate: 16_000 });
  });
  after(async () => {
    await agent?.close({ endSession: true });
    await server?.close();
  });

  test('a viewer is sent natively: frames, voice and sender reports arrive and decrypt', async () => {
    const viewer = new WhepViewer({ baseUrl: server.url, sessionId: agent.session.id, keep: false });
    try {
      await viewer.connect();
      await viewer.waitForConnected();
      await viewer.waitForFrames(40, 10_000); // idle frames flow without any audio; SRs come every 0.5-1.5 s
      const s = await sessionStats(server, agent.session.id);
      assert.deepEqual({ native: s.fanout.native, werift: s.fanout.werift }, { native: 1, werift: 0 }, JSON.stringify(s.fanout));
      const v = viewer.getStats();
      assert.ok(v.keyframes >= 1 && v.videoPacketsMissing === 0, JSON.stringify(v));
      assert.ok(v.audioPackets > 50, `voice packets (silence is sent too): ${JSON.stringify(v)}`);
      assert.ok(v.videoSenderReports >= 1 && v.audioSenderReports >= 1, `sender reports for both tracks: ${JSON.stringify(v)}`);
    } finally {
      await viewer.close();
    }
  });

  test('a viewer that loses 10 % of its packets gets them back: NACKs are answered from the session history', async () => {
    const seqs = new Set<number>();
    const viewer = new WhepViewer({ baseUrl: server.url, sessionId: agent.session.id, keep: false, inboundLossPercent: 10, onVideoRtp: (rtp) => seqs.add(rtp.header.sequenceNumber) });
    try {
      await viewer.connect();
      await viewer.waitForConnected();
      await viewer.waitForFrames(75, 20_000);
      await sleep(500); // the last NACKs' answers
      const sorted = [...seqs].sort((a, b) => a - b);
      // Sequence numbers wrap at 2^16: measure over the longest run without a wrap.
      const span = sorted[sorted.length - 1]! - sorted[0]! + 1;
      assert.ok(span < 30_000, 'no wrap during the run');
      const got = seqs.size / span;
      const s = await sessionStats(server, agent.session.id);
      assert.ok(s.fanout.retransmitted > 0, `the server resent packets: ${JSON.stringify(s.fanout)}`);
      assert.ok(got > 0.97, `received ${seqs.size} of ${span} video packets (${(got * 100).toFixed(1)} %); without retransmission about 90 %`);
    } finally {
      await viewer.close();
    }
  });
});

test("nativeFanout: off sends through werift's path, and viewers still decode", { timeout: 60_000 }, async () => {
  await withServer('off', async (server, agent) => {
    const viewer = new WhepViewer({ baseUrl: server.url, sessionId: agent.session.id, keep: false });
    try {
      await viewer.connect();
      await viewer.waitForConnected();
      await viewer.waitForFrames(10, 10_000);
      const s = await sessionStats(server, agent.session.id);
      assert.deepEqual({ native: s.fanout.native, werift: s.fanout.werift }, { native: 0, werift: 1 });
      assert.ok(viewer.getStats().keyframes >= 1);
    } finally {
      await viewer.close();
    }
  });
});
