/**
 * A voice agent: speech over the session's audio WebSocket, faster than real time, then a barge-in.
 *
 *   npx tsx examples/tts-agent.ts --url http://localhost:8080 [--text "Hello, how can I help?" | --wav speech.wav]
 *       [--rate 24000] [--speed 4] [--barge-in-after 3] [--token T] [--reference ID] [--keep]
 *
 * Creates a session (POST /v1/sessions {source: "websocket"}) and prints the page to watch it on. Sends the first
 * utterance (espeak-ng speaking --text, or a WAV file) as PCM16 --speed times faster than real time, printing the
 * server's `buffered` reports until it answers `ended`. --barge-in-after seconds later it starts the utterance
 * again and interrupts it halfway with `clear`, as an agent does when the user speaks over it. The session is
 * ended on exit unless --keep. Needs the espeak-ng command for --text (apt-get install espeak-ng).
 */
import { parseArgs } from 'node:util';
import { synthesizeSpeech } from '../loadtest/burstSpeech.ts';
import { VoiceAgentClient, type AgentSampleRate } from '../loadtest/VoiceAgentClient.ts';
import { resampleAll } from '../server/media/Resampler.ts';
import { readWav } from '../server/media/wav.ts';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://localhost:8080' },
    text: { type: 'string', default: 'Hello! I am your avatar. Ask me anything, and I will answer you right away.' },
    wav: { type: 'string' },
    rate: { type: 'string', default: '24000' },
    speed: { type: 'string', default: '4' },
    'barge-in-after': { type: 'string', default: '3' },
    token: { type: 'string' },
    reference: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const rate = Number(args.rate) as AgentSampleRate;
if (![16000, 24000, 48000].includes(rate)) throw new Error(`--rate must be 16000, 24000 or 48000 [rate:${args.rate}]`);
const speed = Number(args.speed);
const bargeInAfterS = Number(args['barge-in-after']);
const baseUrl = args.url.replace(/\/+$/, '');

async function loadUtterance(): Promise<Float32Array> {
  if (!args.wav) return synthesizeSpeech(rate, { text: args.text });
  const wav = await readWav(args.wav);
  return wav.sampleRate === rate ? wav.samples : resampleAll(wav.samples, wav.sampleRate, rate);
}

const utterance = await loadUtterance();
const utteranceS = utterance.length / rate;
let lastPrintMs = 0;
const agent = await VoiceAgentClient.connect({
  baseUrl,
  sampleRate: rate,
  ...(args.token ? { token: args.token } : {}),
  ...(args.reference ? { referenceId: args.reference } : {}),
  onMessage: (message) => {
    const now = performance.now();
    if (message.type === 'buffered' && now - lastPrintMs < 250 && message.ms !== 0) return;
    lastPrintMs = now;
    console.log(`  server: ${JSON.stringify(message)}`);
  },
});
const tokenQuery = args.token ? `?token=${encodeURIComponent(args.token)}` : '';
console.log(`session ${agent.session.id} (${agent.session.codec})`);
console.log(`watch it: ${baseUrl}${agent.session.view}${tokenQuery}`);
console.log(`WHEP endpoint: ${baseUrl}${agent.session.whep}`);

process.on('SIGINT', () => {
  console.log('\ninterrupted');
  void agent.close({ endSession: !args.keep }).then(() => process.exit(130));
});

console.log(`utterance 1: ${utteranceS.toFixed(1)} s of audio at ${rate} Hz, sent ${speed}x faster than real time`);
const t0 = performance.now();
const sent = await agent.sendPcm(utterance, { speed });
console.log(`  sent in ${((performance.now() - t0) / 1000).toFixed(2)} s (${(sent.sentMs / 1000).toFixed(1)} s of audio); server buffer ${agent.bufferedMs} ms`);
const endedAt = await agent.end('utterance-1');
console.log(`  ended: played out ${((endedAt - t0) / 1000).toFixed(2)} s after the first byte`);

console.log(`waiting ${bargeInAfterS} s, then utterance 2, interrupted halfway (barge-in)`);
await new Promise((r) => setTimeout(r, bargeInAfterS * 1000));
const t1 = performance.now();
await agent.sendPcm(utterance, { speed });
await new Promise((r) => setTimeout(r, Math.max(0, (utteranceS * 1000) / 2 - (performance.now() - t1))));
agent.clear();
console.log(`  clear sent ${((performance.now() - t1) / 1000).toFixed(2)} s into utterance 2: the mouth rests and the voice stops`);
await new Promise((r) => setTimeout(r, 1500));
console.log(`  server buffer now ${agent.bufferedMs} ms; errors: ${agent.errors.length ? agent.errors.join('; ') : 'none'}`);

await agent.close({ endSession: !args.keep });
console.log(args.keep ? `socket closed; session ${agent.session.id} kept` : `session ${agent.session.id} ended`);
process.exit(0);
