/**
 * Run as a child process: starts a server, streams speech into a few voice-agent sessions faster than real time (the
 * pipeline workers render and encode without pause), closes the server at a random moment, and repeats. A worker
 * terminated inside a native call (an encode, an ONNX run) aborts this whole process, which is what the parent checks.
 * Prints `cycles done: N` at the end; the server's warnings (a worker that had to be terminated) go to stdout as well.
 */
import { VoiceAgentClient } from '../../loadtest/VoiceAgentClient.ts';
import { startServer } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';

const cycles = Number(process.argv[2] ?? 8);
const agentsPerCycle = 4;
const pcm = new Float32Array(16000 * 20).map((_, i) => 0.3 * Math.sin(i / 7) * Math.sin(i / 3000));
for (let i = 0; i < cycles; i++) {
  const server = await startServer(loadConfig(undefined, { server: { port: 0, host: '127.0.0.1' }, log: { level: 'warn' }, reference: { cacheDir: '' } }));
  const agents = await Promise.all(Array.from({ length: agentsPerCycle }, () => VoiceAgentClient.connect({ baseUrl: server.url, sampleRate: 16000 })));
  for (const a of agents) void a.sendPcm(pcm, { speed: 8 }).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 300 + Math.random() * 700));
  await server.close();
  for (const a of agents) await a.close().catch(() => undefined);
}
console.log(`cycles done: ${cycles}`);
