/**
 * A voice agent in Node: creates a WebSocket-sourced session and streams its speech as PCM16LE.
 *
 *   const agent = await VoiceAgentClient.connect({ baseUrl: 'http://127.0.0.1:8080', sampleRate: 24000 });
 *   console.log(agent.session.whep, agent.session.view);   // where viewers attach
 *   await agent.sendPcm(pcm, { speed: 4 });  // 4x faster than real time; the server plays it at real time
 *   await agent.end('utt-1');               // resolves when the server says the last sample was played
 *   agent.clear();                          // barge-in: stops sending and drops what the server buffered
 *   await agent.close({ endSession: true }); // close the socket, DELETE the session
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { float32ToInt16 } from '../server/media/OpusCodec.ts';
import { authHeader, deleteResource, postForCreated } from './serverRequests.ts';

export type AgentSampleRate = 16000 | 24000 | 48000;

/** The session the server created for the agent (`201` body of `POST /v1/sessions`). */
export interface VoiceSession {
  id: string;
  /** Paths on the server: the audio WebSocket, the WHEP endpoint, the viewer page. */
  audio: string;
  whep: string;
  view: string;
  codec: 'h264' | 'vp8';
}

export interface VoiceAgentOptions {
  /** Server origin, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  sampleRate: AgentSampleRate;
  /** Portrait id from POST /v1/references; the server's default when absent. */
  referenceId?: string;
  /** Sent as `Authorization: Bearer <token>` (on the upgrade too) when given. */
  token?: string;
  /** Deadline for each HTTP request and for the socket to open (ms, default 10000). */
  requestTimeoutMs?: number;
  /** Called for every JSON message from the server. */
  onMessage?: (message: AgentServerMessage) => void;
}

/** What the server sends on the audio socket. */
export type AgentServerMessage =
  | { type: 'buffered'; ms: number }
  | { type: 'ended'; id?: string }
  | { type: 'error'; message: string }
  | { type: string; [field: string]: unknown };

export interface SendPcmOptions {
  /** Times real time (default Infinity: as fast as the socket takes it; 1 paces at real time). */
  speed?: number;
  /** Audio per message, ms (default 40). */
  chunkMs?: number;
}

export interface SendPcmResult {
  /** Audio actually sent, ms. */
  sentMs: number;
  /** A clear() or the socket closing stopped the sending. */
  interrupted: boolean;
}

/** Bound on stored `buffered` reports (a report every 500 ms at least while audio waits). */
const MAX_BUFFERED_REPORTS = 100_000;

export class VoiceAgentClient {
  /** `buffered` reports in arrival order: performance.now() at arrival and the server's ms. */
  readonly bufferedReports: { atMs: number; ms: number }[] = [];
  /** `error` messages from the server. */
  readonly errors: string[] = [];
  /** Close code and reason once the socket closed. */
  closeInfo: { code: number; reason: string } | null = null;

  private readonly endWaiters = new Map<string, Array<{ resolve: (atMs: number) => void; reject: (e: Error) => void }>>();
  private generation = 0;
  private endCounter = 0;
  private readonly closed: Promise<void>;

  private constructor(
    private readonly options: VoiceAgentOptions & { requestTimeoutMs: number },
    readonly session: VoiceSession,
    readonly sessionUrl: string,
    private readonly socket: WebSocket,
  ) {
    socket.on('message', (data, isBinary) => {
      if (!isBinary) this.onText(String(data));
    });
    this.closed = new Promise<void>((resolve) => {
      socket.once('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        this.generation++;
        const error = new Error(`audio socket closed [code:${code}, reason:${this.closeInfo.reason}]`);
        for (const waiters of this.endWaiters.values()) for (const w of waiters) w.reject(error);
        this.endWaiters.clear();
        resolve();
      });
    });
    socket.on('error', (error) => this.errors.push(`socket: ${error.message}`));
  }

  /** POST /v1/sessions {source:'websocket', sampleRate, reference?}, then opens its audio socket. */
  static async connect(opts: VoiceAgentOptions): Promise<VoiceAgentClient> {
    const options = { requestTimeoutMs: 10_000, ...opts };
    const baseUrl = options.baseUrl.replace(/\/+$/, '');
    const body = JSON.stringify({ source: 'websocket', sampleRate: options.sampleRate, ...(options.referenceId ? { reference: options.referenceId } : {}) });
    const created = await postForCreated(`${baseUrl}/v1/sessions`, 'application/json', body, { token: options.token, timeoutMs: options.requestTimeoutMs });
    const session = JSON.parse(created.body) as VoiceSession;
    const sessionUrl = created.location ?? `${baseUrl}/v1/sessions/${encodeURIComponent(session.id)}`;
    const socket = await openSocket(audioSocketUrl(baseUrl, session.audio), options.token, options.requestTimeoutMs).catch(async (error: unknown) => {
      await deleteResource(sessionUrl, { token: options.token, timeoutMs: options.requestTimeoutMs });
      throw error;
    });
    return new VoiceAgentClient(options, session, sessionUrl, socket);
  }

  /** Opens the audio socket of a session created elsewhere (e.g. by the presenter page or a test); close() leaves it. */
  static async attach(opts: VoiceAgentOptions, session: VoiceSession): Promise<VoiceAgentClient> {
    const options = { requestTimeoutMs: 10_000, ...opts };
    const baseUrl = options.baseUrl.replace(/\/+$/, '');
    const socket = await openSocket(audioSocketUrl(baseUrl, session.audio), options.token, options.requestTimeoutMs);
    return new VoiceAgentClient(options, session, `${baseUrl}/v1/sessions/${encodeURIComponent(session.id)}`, socket);
  }

  /** The last `buffered` the server reported (ms of audio waiting to be played), 0 before any. */
  get bufferedMs(): number {
    return this.bufferedReports.at(-1)?.ms ?? 0;
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /**
   * Sends mono PCM at the session's rate (Float32 in [-1, 1] or Int16) as PCM16LE messages, `speed` times
   * real time. Waits for each message to be written, so the server's backpressure slows this down.
   */
  async sendPcm(pcm: Float32Array | Int16Array, opts: SendPcmOptions = {}): Promise<SendPcmResult> {
    const { speed = Infinity, chunkMs = 40 } = opts;
    if (!(speed > 0)) throw new TypeError(`speed must be > 0 [speed:${speed}]`);
    if (!(chunkMs > 0)) throw new TypeError(`chunkMs must be > 0 [chunkMs:${chunkMs}]`);
    const ints = pcm instanceof Float32Array ? float32ToInt16(pcm) : pcm;
    const rate = this.options.sampleRate;
    const chunk = Math.max(1, Math.round((rate * chunkMs) / 1000));
    const generation = this.generation;
    const startMs = performance.now();
    let sent = 0;
    for (let at = 0; at < ints.length; at += chunk) {
      if (generation !== this.generation || !this.isOpen) return { sentMs: (sent * 1000) / rate, interrupted: true };
      const dueMs = startMs + (at * 1000) / rate / speed;
      const waitMs = dueMs - performance.now();
      if (waitMs > 1) await new Promise((r) => setTimeout(r, waitMs));
      if (generation !== this.generation || !this.isOpen) return { sentMs: (sent * 1000) / rate, interrupted: true };
      const part = ints.subarray(at, Math.min(at + chunk, ints.length));
      await this.sendBinary(Buffer.from(part.buffer, part.byteOffset, part.byteLength));
      sent += part.length;
    }
    return { sentMs: (sent * 1000) / rate, interrupted: false };
  }

  /** Barge-in: stops any sendPcm() in progress and tells the server to drop its buffer, rest the mouth, silence the voice. */
  clear(): void {
    this.generation++;
    this.sendJson({ type: 'clear' });
  }

  /**
   * Marks the end of an utterance; resolves with performance.now() when the server answers `ended` (its last
   * sample has been played out). Rejects when the socket closes first or after `timeoutMs`.
   */
  end(id = `end-${++this.endCounter}`, timeoutMs = 120_000): Promise<number> {
    const done = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no 'ended' for ${id} within ${timeoutMs} ms`)), timeoutMs);
      const list = this.endWaiters.get(id) ?? [];
      list.push({
        resolve: (atMs) => {
          clearTimeout(timer);
          resolve(atMs);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.endWaiters.set(id, list);
    });
    this.sendJson({ type: 'end', id });
    return done;
  }

  setPose(yaw: number, pitch: number, roll: number): void {
    this.sendJson({ type: 'pose', yaw, pitch, roll });
  }

  setExpression(scale: number): void {
    this.sendJson({ type: 'expression', scale });
  }

  /** Sends a raw text frame (tests of bad input). */
  sendText(text: string): void {
    if (this.isOpen) this.socket.send(text);
  }

  /** Sends raw bytes (tests of bad input). */
  sendBinary(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.isOpen) return resolve();
      this.socket.send(bytes, { binary: true }, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Resolves when the socket has closed (by either side). */
  waitForClose(): Promise<void> {
    return this.closed;
  }

  /** Closes the socket (code 1000) and, with `endSession`, DELETEs the session. */
  async close(opts: { endSession?: boolean } = {}): Promise<void> {
    if (this.socket.readyState === WebSocket.CONNECTING || this.socket.readyState === WebSocket.OPEN) this.socket.close(1000);
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, 2_000))]);
    if (this.closeInfo === null) this.socket.terminate();
    if (opts.endSession) await deleteResource(this.sessionUrl, { token: this.options.token, timeoutMs: this.options.requestTimeoutMs });
  }

  private sendJson(message: object): void {
    if (this.isOpen) this.socket.send(JSON.stringify(message));
  }

  private onText(text: string): void {
    let message: AgentServerMessage;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { type?: unknown }).type !== 'string') return;
      message = parsed as AgentServerMessage;
    } catch {
      this.errors.push(`non-JSON text from the server: ${text.slice(0, 80)}`);
      return;
    }
    const now = performance.now();
    if (message.type === 'buffered' && typeof message.ms === 'number') {
      if (this.bufferedReports.length < MAX_BUFFERED_REPORTS) this.bufferedReports.push({ atMs: now, ms: message.ms });
    } else if (message.type === 'error') {
      this.errors.push(String(message.message));
    } else if (message.type === 'ended') {
      const id = typeof message.id === 'string' ? message.id : undefined;
      // An end without an id is answered without one: it settles the oldest waiter.
      const key = id ?? this.endWaiters.keys().next().value;
      if (key !== undefined) {
        const waiters = this.endWaiters.get(key) ?? [];
        this.endWaiters.delete(key);
        for (const w of waiters) w.resolve(now);
      }
    }
    this.options.onMessage?.(message);
  }
}

/** `http://host:port` + `/v1/sessions/{id}/audio` -> `ws://host:port/v1/sessions/{id}/audio`. */
export function audioSocketUrl(baseUrl: string, audioPath: string): string {
  const url = new URL(audioPath, `${baseUrl}/`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

async function openSocket(url: string, token: string | undefined, timeoutMs: number): Promise<WebSocket> {
  const socket = new WebSocket(url, { headers: authHeader(token), handshakeTimeout: timeoutMs });
  const unexpected = once(socket, 'unexpected-response').then(([, res]) => {
    throw new Error(`audio socket upgrade refused [status:${(res as { statusCode?: number }).statusCode}]`);
  });
  const closedEarly = once(socket, 'close').then(([code, reason]) => {
    throw new Error(`audio socket closed while opening [code:${String(code)}, reason:${String(reason)}]`);
  });
  try {
    await Promise.race([once(socket, 'open'), unexpected, closedEarly]);
  } catch (error) {
    socket.terminate();
    throw error;
  }
  unexpected.catch(() => undefined);
  closedEarly.catch(() => undefined);
  return socket;
}
