import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { SessionManager } from '../session/SessionManager.ts';
import { bearerOf, tokenMatches } from './auth.ts';

const AUDIO_PATH = /^\/v1\/sessions\/([^/]+)\/audio$/;

/** Refuse an upgrade with a plain HTTP answer (the client has no WebSocket yet to receive a close reason). */
function refuse(socket: Duplex, status: number, reason: string): void {
  const body = JSON.stringify({ error: reason });
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : 'Bad Request'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n` +
      (status === 401 ? 'WWW-Authenticate: Bearer\r\n' : '') +
      `\r\n${body}`,
  );
}

/**
 * `GET /v1/sessions/{id}/audio` upgrades to the voice agent's WebSocket. Auth as the rest of /v1: a Bearer header,
 * or `?token=` because browsers cannot set headers on a WebSocket. Oversized messages are closed with 1009 by ws.
 */
export function audioSocketUpgrade(config: Config, sessions: SessionManager, apiToken: string, log: Logger) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.websocket.maxMessageBytes });
  const handler = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = AUDIO_PATH.exec(url.pathname);
    if (!match) {
      refuse(socket, 404, `no WebSocket at ${url.pathname}; voice-agent audio is at /v1/sessions/{id}/audio`);
      return;
    }
    if (apiToken) {
      const presented = bearerOf(req.headers.authorization) ?? url.searchParams.get('token') ?? undefined;
      if (presented === undefined || !tokenMatches(presented, [apiToken])) {
        refuse(socket, 401, presented === undefined ? 'missing Authorization: Bearer token (or ?token=)' : 'invalid bearer token');
        return;
      }
    }
    const id = decodeURIComponent(match[1]!);
    const session = sessions.find(id);
    if (!session) {
      refuse(socket, 404, `no session ${id}`);
      return;
    }
    const rateParam = url.searchParams.get('sampleRate');
    const queryRate = rateParam === null ? undefined : Number(rateParam);
    wss.handleUpgrade(req, socket, head, (ws) => {
      session.attachAudioSocket(ws, queryRate).catch((err: Error) => {
        log.error({ sessionId: id, err: err.message }, 'audio socket attach failed');
        ws.close(1011, 'internal error');
      });
    });
  };
  return { handler, close: () => wss.close() };
}
