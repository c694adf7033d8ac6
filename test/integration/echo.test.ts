/** The microphone API with `?echo=1`: the caller gets its own voice back with the face; without it, no audio comes back. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AvatarClient } from '../../loadtest/AvatarClient.ts';
import { startServer, type RunningServer } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { OpusDecoder } from '../../server/media/OpusCodec.ts';
import { speech48k } from '../helpers/media.ts';

const rms = (pcm: Int16Array) => {
  let sum = 0;
  for (const v of pcm) sum += (v / 32768) ** 2;
  return Math.sqrt(sum / Math.max(1, pcm.length));
};

describe('voice back to the caller (?echo=1)', { timeout: 90_000 }, () => {
  let server: RunningServer;
  before(async () => {
    server = await startServer(loadConfig(undefined, { server: { port: 0, host: '127.0.0.1' }, log: { level: 'warn' }, reference: { cacheDir: '' } }));
  });
  after(async () => {
    await server?.close();
  });

  for (const echo of [false, true]) {
    test(echo ? 'with echo=1 the caller hears its speech, 50 packets a second, with the video' : 'without echo no audio comes back (it would echo in the room)', async () => {
      const client = new AvatarClient({ baseUrl: server.url, audio: await speech48k({ seconds: 6 }), loop: true, echo });
      try {
        await client.connect();
        await client.waitForConnected();
        await client.waitForFrames(25, 10_000);
        const packets0 = client.getStats().audioPacketsReceived;
        const t0 = performance.now();
        await new Promise((r) => setTimeout(r, 3000));
        const perSecond = ((client.getStats().audioPacketsReceived - packets0) * 1000) / (performance.now() - t0);
        const session = server.sessions.get(client.id!).stats();
        if (!echo) {
          assert.equal(client.getStats().audioPacketsReceived, 0);
          assert.equal(session.voice.outputs, 0);
          return;
        }
        assert.equal(session.voice.outputs, 1);
        assert.ok(Math.abs(perSecond - 50) <= 5, `${perSecond.toFixed(1)} voice packets a second`);
        const decoder = new OpusDecoder();
        const levels = client.echoAudio.map((p) => rms(decoder.decode(p)));
        const loud = levels.filter((l) => l > 0.02).length;
        assert.ok(loud > levels.length * 0.3, `speech comes back: ${loud} of ${levels.length} packets above -34 dBFS`);
      } finally {
        await client.close();
      }
    });
  }
});
