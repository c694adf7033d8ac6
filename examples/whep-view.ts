/**
 * A WHEP viewer in Node: watches a session and prints, each second, the frame rate, the voice's level and an
 * estimate of the A/V offset measured from what it decodes (mouth openings against sound onsets).
 *
 *   npx tsx examples/whep-view.ts --url http://localhost:8080 --session ID [--seconds 30] [--wav out.wav]
 *       [--reference ID] [--token T]
 *
 * The offset needs speech with pauses (each sound that follows 300 ms of silence is paired with the next mouth
 * opening; positive = the mouth comes after the sound); it is the median over the last 30 s. --reference names
 * the session's portrait (default: the server's default), whose lip landmarks locate the mouth. --wav writes the
 * decoded voice (48 kHz mono) on exit. Stops after --seconds, or on Ctrl-C; the viewer is DELETEd either way.
 */
import { parseArgs } from 'node:util';
import { ViewerSyncRecorder } from '../loadtest/ViewerSyncRecorder.ts';
import { WhepViewer, type DecodedAudioPacket } from '../loadtest/WhepViewer.ts';
import { authHeader } from '../loadtest/serverRequests.ts';
import { writeWav16 } from '../server/media/wav.ts';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://localhost:8080' },
    session: { type: 'string' },
    seconds: { type: 'string', default: '0' },
    wav: { type: 'string' },
    reference: { type: 'string', default: 'default' },
    token: { type: 'string' },
  },
});
if (!args.session) {
  console.error('usage: npx tsx examples/whep-view.ts --url URL --session ID [--seconds N] [--wav out.wav] [--reference ID] [--token T]');
  process.exit(2);
}
const baseUrl = args.url.replace(/\/+$/, '');
const seconds = Number(args.seconds);
/** Sound onsets this far back count for the printed offset. */
const OFFSET_WINDOW_MS = 30_000;

const res = await fetch(`${baseUrl}/v1/references/${encodeURIComponent(args.reference)}`, { headers: authHeader(args.token) });
if (!res.ok) throw new Error(`GET /v1/references/${args.reference}: ${res.status} ${await res.text()}`);
const { landmarks } = (await res.json()) as { landmarks: number[][] };

const recorder = new ViewerSyncRecorder({ landmarks });
const voice: Int16Array[] = [];
let second = { frames: 0, sumSquares: 0, samples: 0 };
const onAudio = (packet: DecodedAudioPacket): void => {
  recorder.onAudio(packet);
  if (args.wav) voice.push(packet.pcm);
  for (const v of packet.pcm) second.sumSquares += (v / 32768) ** 2;
  second.samples += packet.pcm.length;
};
const viewer = new WhepViewer({
  baseUrl,
  sessionId: args.session,
  keep: false,
  ...(args.token ? { token: args.token } : {}),
  onFrame: (frame) => {
    second.frames++;
    recorder.onFrame(frame);
  },
  onAudio,
});
await viewer.connect();
await viewer.waitForConnected();
console.log(`viewing session ${args.session} (${viewer.videoCodec}), viewer ${viewer.url}`);

const fmt = (v: number | null | undefined, digits = 0): string => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));
const startMs = performance.now();
const timer = setInterval(() => {
  const now = performance.now();
  const levelDb = second.samples > 0 ? 10 * Math.log10(second.sumSquares / second.samples + 1e-12) : null;
  const lastReport = viewer.audioClock.lastReport;
  // The window is counted on the sender's clock, which may be set differently from ours.
  const recent = lastReport ? recorder.analyze(viewer.videoClock, viewer.audioClock, { fromMs: lastReport.ntpMs - OFFSET_WINDOW_MS }) : null;
  recorder.forgetAudioBefore(now - OFFSET_WINDOW_MS - 5_000);
  console.log(
    `t=${fmt((now - startMs) / 1000)} s  ${second.frames} fps  voice ${fmt(levelDb, 1)} dBFS  ` +
      `A/V offset ${fmt(recent?.stats?.median)} ms (median of ${recent?.stats?.count ?? 0} in ${OFFSET_WINDOW_MS / 1000} s)  ` +
      `sender reports v${viewer.videoClock.reportCount}/a${viewer.audioClock.reportCount}`,
  );
  second = { frames: 0, sumSquares: 0, samples: 0 };
  if (seconds > 0 && now - startMs >= seconds * 1000) void stop(0);
}, 1000);

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  await viewer.close();
  recorder.close();
  if (args.wav) {
    const total = voice.reduce((n, p) => n + p.length, 0);
    const pcm = new Float32Array(total);
    let at = 0;
    for (const p of voice) for (const v of p) pcm[at++] = v / 32768;
    await writeWav16(args.wav, pcm, 48_000);
    console.log(`wrote ${args.wav} (${(total / 48_000).toFixed(1)} s)`);
  }
  process.exit(code);
}
process.on('SIGINT', () => void stop(130));
