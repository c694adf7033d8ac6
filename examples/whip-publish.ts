/**
 * A WHIP publisher: streams a WAV file as Opus to /v1/whip; the server's avatar speaks it to WHEP viewers.
 *
 *   npx tsx examples/whip-publish.ts --url http://localhost:8080 [--wav speech.wav] [--loop] [--token T] [--reference ID]
 *
 * Prints the session's viewer page. Sends the audio at real time (like a microphone); at its end (or on Ctrl-C)
 * it DELETEs the session. With --loop it plays the file over and over until Ctrl-C.
 */
import { parseArgs } from 'node:util';
import { loadSpeech48k } from '../loadtest/audioFile.ts';
import { WhipPublisher } from '../loadtest/WhipPublisher.ts';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://localhost:8080' },
    wav: { type: 'string', default: new URL('../assets/speech/jfk.wav', import.meta.url).pathname },
    loop: { type: 'boolean', default: false },
    token: { type: 'string' },
    reference: { type: 'string' },
  },
});
const baseUrl = args.url.replace(/\/+$/, '');
const audio = await loadSpeech48k(args.wav);
const publisher = new WhipPublisher({
  baseUrl,
  audio,
  loop: args.loop,
  ...(args.token ? { token: args.token } : {}),
  ...(args.reference ? { referenceId: args.reference } : {}),
});

let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await publisher.close();
    console.log(`DELETE ${publisher.url ?? '(no session)'}: session ended`);
  }
  process.exit(code);
}
process.on('SIGINT', () => void stop(130));

await publisher.connect();
await publisher.waitForConnected();
const tokenQuery = args.token ? `?token=${encodeURIComponent(args.token)}` : '';
console.log(`publishing ${args.wav} (${(audio.length / 48_000).toFixed(1)} s${args.loop ? ', looped' : ''}) to session ${publisher.sessionId}`);
console.log(`watch it: ${baseUrl}/view/${publisher.sessionId}${tokenQuery}`);
console.log(`WHEP endpoint: ${baseUrl}/v1/sessions/${publisher.sessionId}/whep   (Ctrl-C stops)`);

const timer = setInterval(() => {
  process.stdout.write(`\r  ${publisher.sentSeconds.toFixed(0)} s sent`);
  if (publisher.finished) {
    clearInterval(timer);
    console.log('\naudio finished');
    // Leave the last words time to be played and shown before ending the session.
    setTimeout(() => void stop(0), 2000);
  }
}, 1000);
