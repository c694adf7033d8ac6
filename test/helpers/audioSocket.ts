/** A Node voice agent for `GET /v1/sessions/{id}/audio`: PCM16LE over a WebSocket, JSON control messages. */
import { once } from 'node:events';
import WebSocket from 'ws';
import { readWav } from '../../server/media/wav.ts';

/** A WAV file as mono PCM16LE at its own rate. */
export async function wavAsPcm16(path: string): Promise<{ pcm: Buffer; sampleRate: number }> {
  const { samples, sampleRate } = await readWav(path);
  const pcm = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) pcm.writeInt16LE(Math.round(Math.max(-1, Math.min(1, samples[i]!)) * 32767), i * 2);
  return { pcm, sampleRate };
}

/** `http://host:port` + `/v1/sessions/{id}/audio` -> `ws://host:port/v1/sessions/{id}/audio`. */
export function audioSocketUrl(serverUrl: string, audioPath: string): string {
  const url = new URL(audioPath, serverUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

export interface AudioSocket {
  socket: WebSocket;
  /** JSON messages the server sent so far. */
  received: Array<Record<string, unknown>>;
  /** Sends `pcm` in `chunkMs` messages as fast as the socket drains (faster than real time). */
  sendPcm(pcm: Buffer, sampleRate: number, chunkMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function openAudioSocket(url: string): Promise<AudioSocket> {
  const socket = new WebSocket(url);
  const received: Array<Record<string, unknown>> = [];
  socket.on('message', (data, isBinary) => {
    if (isBinary) return;
    try {
      received.push(JSON.parse(String(data)) as Record<string, unknown>);
    } catch {
      // the contract says JSON; a test reading `received` will notice what is missing
    }
  });
  await once(socket, 'open');
  return {
    socket,
    received,
    async sendPcm(pcm, sampleRate, chunkMs = 100) {
      const chunkBytes = Math.round((sampleRate * chunkMs) / 1000) * 2;
      for (let at = 0; at < pcm.length; at += chunkBytes) {
        await new Promise<void>((resolve, reject) => socket.send(pcm.subarray(at, at + chunkBytes), (err) => (err ? reject(err) : resolve())));
      }
    },
    async close() {
      if (socket.readyState === WebSocket.CLOSED) return;
      const closed = once(socket, 'close');
      socket.close(1000);
      await closed;
    },
  };
}
