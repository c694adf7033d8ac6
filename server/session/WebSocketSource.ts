import type { WebSocket, RawData } from 'ws';
import type { PipelineControl } from '../../engines/pipeline.ts';
import type { Logger } from '../logger.ts';
import { Resampler } from '../media/Resampler.ts';
import { parseControlMessage, RateLimiter } from './controlMessages.ts';
import { SpeechPlayout } from './SpeechPlayout.ts';

/** Sample rates a voice agent may declare, Hz. */
export const AGENT_SAMPLE_RATES = [16000, 24000, 48000] as const;
export type AgentSampleRate = (typeof AGENT_SAMPLE_RATES)[number];

/** WebSocket close codes used for bad input (RFC 6455 §7.4.1; 4xxx are private). */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  invalidPayload: 1007,
  policy: 1008,
  tooBig: 1009,
  alreadyConnected: 4409,
} as const;

/** Most often a `buffered` report is sent while audio streams in, ms. */
const BUFFERED_REPORT_MS = 50;
/** While audio waits, `buffered` is reported at least this often, ms. */
const BUFFERED_HEARTBEAT_MS = 500;

/** One pull of the play-out: the same audio for the pipeline (16 kHz) and for the voice (48 kHz). */
export interface SourceAudio {
  pcm16: Float32Array;
  /** null when the chunk is all silence. */
  pcm48: Float32Array | null;
  /** End-of-utterance marks reached in this chunk, at their offset in 16 kHz samples. */
  marks: { id: string | undefined; offset16: number }[];
  /** The chunk holds real (agent) audio. */
  real: boolean;
}

export interface WebSocketSourceOptions {
  sampleRate: AgentSampleRate | undefined;
  /** Stop reading the socket while this much audio waits (TCP backpressure), ms. */
  maxBufferedMs: number;
  controlMessageBytes: number;
  controlMessagesPerSecond: number;
  log: Logger;
  onControl: (msg: PipelineControl) => void;
}

/**
 * A voice agent's audio over a WebSocket (`GET /v1/sessions/{id}/audio`): binary PCM16LE mono at the declared rate,
 * JSON control messages, played out at real time through a bounded buffer. One socket at a time.
 */
export class WebSocketSource {
  private socket: WebSocket | undefined;
  private playout: SpeechPlayout | undefined;
  private to16: Resampler | undefined;
  private to48: Resampler | undefined;
  private rate: AgentSampleRate | undefined;
  private limiter: RateLimiter | undefined;
  /** Marks played into the pipeline, waiting for the frame that shows them to go out. */
  private pendingEnds: { id: string | undefined; mediaMs: number }[] = [];
  private lastReportAt = 0;
  private lastReportedZero = true;
  private closed = false;
  /** Keeps the clock moving before the rate is known (no socket yet). */
  private readonly silence = new SpeechPlayout(16000);
  /** Wall-clock ms since when no socket is attached (the session's idle rule). */
  detachedSince: number;
  readonly stats = { bytesReceived: 0, messagesRefused: 0, sockets: 0, underrunMs: 0 };

  constructor(
    private readonly opts: WebSocketSourceOptions,
    nowMs: number,
  ) {
    this.detachedSince = nowMs;
  }

  get sampleRate(): AgentSampleRate | undefined {
    return this.rate ?? this.opts.sampleRate;
  }

  get attached(): boolean {
    return this.socket !== undefined;
  }

  get bufferedMs(): number {
    return this.playout?.bufferedMs ?? 0;
  }

  /** Take a new socket (after the HTTP upgrade); `queryRate` is `?sampleRate=` of the upgrade URL, if any. */
  async attach(ws: WebSocket, queryRate: number | undefined): Promise<void> {
    if (this.socket) {
      ws.close(CLOSE.alreadyConnected, 'this session already has an audio socket; close it first');
      return;
    }
    const declared = this.opts.sampleRate;
    if (queryRate !== undefined && declared !== undefined && queryRate !== declared) {
      ws.close(CLOSE.policy, `sampleRate ${queryRate} differs from the session's declared ${declared}`);
      return;
    }
    const rate = declared ?? queryRate;
    if (rate === undefined || !(AGENT_SAMPLE_RATES as readonly number[]).includes(rate)) {
      ws.close(CLOSE.policy, `sample rate not declared: create the session with sampleRate or connect with ?sampleRate= (${AGENT_SAMPLE_RATES.join(', ')})`);
      return;
    }
    if (this.rate !== undefined && this.rate !== rate) {
      ws.close(CLOSE.policy, `this session already plays ${this.rate} Hz audio`);
      return;
    }
    this.socket = ws;
    this.stats.sockets++;
    if (this.rate === undefined) {
      this.rate = rate as AgentSampleRate;
      this.playout = new SpeechPlayout(rate);
      if (rate !== 16000) this.to16 = await Resampler.create({ inputRate: rate, outputRate: 16000, maxInputSamples: rate / 10 });
      if (rate !== 48000) this.to48 = await Resampler.create({ inputRate: rate, outputRate: 48000, maxInputSamples: rate / 10 });
    }
    if (this.closed) {
      this.close('session closed');
      return;
    }
    if (this.socket !== ws) return; // closed while the resamplers loaded
    this.limiter = new RateLimiter(this.opts.controlMessagesPerSecond, performance.now());
    ws.on('message', (data, isBinary) => this.onMessage(ws, data, isBinary));
    ws.on('close', () => {
      if (this.socket !== ws) return;
      this.socket = undefined;
      this.detachedSince = performance.timeOrigin + performance.now();
      this.opts.log.info('audio socket closed');
    });
    ws.on('error', (err) => this.opts.log.debug({ err: err.message }, 'audio socket error'));
    this.opts.log.info({ sampleRate: rate }, 'audio socket attached');
    this.report(true);
  }

  private onMessage(ws: WebSocket, data: RawData, isBinary: boolean): void {
    if (this.socket !== ws) return;
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (isBinary) {
      if (buf.length % 2 !== 0) {
        ws.close(CLOSE.invalidPayload, `PCM16 needs an even number of bytes, got ${buf.length}`);
        return;
      }
      this.stats.bytesReceived += buf.length;
      const pcm = new Int16Array(buf.length / 2);
      for (let i = 0; i < pcm.length; i++) pcm[i] = buf.readInt16LE(i * 2);
      this.playout!.push(pcm);
      // Backpressure: stop reading until the buffer drains (see tick()); TCP slows the sender, nothing is dropped.
      if (this.bufferedMs > this.opts.maxBufferedMs) ws.pause();
      this.report(false);
      return;
    }
    const text = buf.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      ws.close(CLOSE.unsupportedData, 'text messages must be JSON control messages; send PCM16LE audio as binary messages');
      return;
    }
    const type = (parsed as { type?: unknown } | null)?.type;
    if (!this.limiter!.take(performance.now())) {
      this.stats.messagesRefused++;
      this.send({ type: 'error', message: `too many control messages (limit ${this.opts.controlMessagesPerSecond}/s); extra ones are dropped` });
      return;
    }
    if (type === 'end') {
      const id = (parsed as { id?: unknown }).id;
      if (id !== undefined && (typeof id !== 'string' || id.length > 200)) {
        ws.close(CLOSE.invalidPayload, 'end.id must be a string of at most 200 characters');
        return;
      }
      this.playout!.mark(id);
      return;
    }
    const result = parseControlMessage(text, this.opts.controlMessageBytes);
    if ('error' in result) {
      const known = type === 'clear' || type === 'pose' || type === 'expression';
      ws.close(known ? CLOSE.invalidPayload : CLOSE.unsupportedData, result.error.slice(0, 120));
      return;
    }
    if (result.message.type === 'view') {
      ws.close(CLOSE.unsupportedData, 'unknown message type "view" here; expected clear, end, pose or expression');
      return;
    }
    this.opts.onControl(result.message);
  }

  /** Barge-in: drop the waiting audio; pending ends are answered as interrupted. */
  clear(): void {
    const dropped = this.playout?.clear() ?? [];
    for (const m of [...this.pendingEnds.splice(0), ...dropped]) this.send({ type: 'ended', id: m.id ?? null, interrupted: true });
    this.socket?.resume();
    this.report(true);
  }

  /**
   * Audio due now (real time), resampled for the pipeline and the voice; `clockMs` is the media time where it starts.
   * Silence before the rate is known (no socket yet).
   */
  pull(nowMs: number, clockMs: number): SourceAudio {
    const playout = this.playout;
    if (!playout || !this.rate) return { pcm16: this.silence.pull(nowMs).pcm, pcm48: null, marks: [], real: false };
    const chunk = playout.pull(nowMs);
    if (chunk.pcm.length === 0) return { pcm16: new Float32Array(0), pcm48: null, marks: [], real: false };
    const real = chunk.realSamples > 0;
    if (!real && this.attached) this.stats.underrunMs += (chunk.pcm.length * 1000) / this.rate;
    const pcm16 = this.to16 ? this.to16.push(chunk.pcm).slice() : chunk.pcm;
    const pcm48 = !real ? null : this.to48 ? this.to48.push(chunk.pcm).slice() : chunk.pcm;
    if (!real && this.to48) this.to48.push(chunk.pcm); // keep its history continuous
    const marks = chunk.marks.map((m) => ({ id: m.id, offset16: Math.round((m.offset * 16000) / this.rate!) }));
    for (const m of marks) this.pendingEnds.push({ id: m.id, mediaMs: clockMs + (m.offset16 * 1000) / 16000 });
    if (this.socket?.isPaused && this.bufferedMs < this.opts.maxBufferedMs / 2) this.socket.resume();
    const t = nowMs;
    if (this.bufferedMs > 0 ? t - this.lastReportAt >= BUFFERED_HEARTBEAT_MS : !this.lastReportedZero) this.report(true);
    return { pcm16, pcm48, marks, real };
  }

  /** The frame showing `mediaMs` went out: answer the ends it covers. */
  onMediaSent(mediaMs: number): void {
    while (this.pendingEnds.length > 0 && this.pendingEnds[0]!.mediaMs <= mediaMs) {
      const m = this.pendingEnds.shift()!;
      this.send({ type: 'ended', id: m.id ?? null, mediaMs: Math.round(m.mediaMs) });
    }
  }

  private report(force: boolean): void {
    const t = performance.timeOrigin + performance.now();
    if (!force && t - this.lastReportAt < BUFFERED_REPORT_MS) return;
    this.lastReportAt = t;
    const ms = Math.round(this.bufferedMs);
    this.lastReportedZero = ms === 0;
    this.send({ type: 'buffered', ms });
  }

  send(msg: object): void {
    const ws = this.socket;
    if (!ws || ws.readyState !== ws.OPEN) return;
    ws.send(JSON.stringify(msg), (err) => {
      if (err) this.opts.log.debug({ err: err.message }, 'audio socket send failed');
    });
  }

  /** End the socket with a reason (the session is closing); frees the resamplers. */
  close(reason: string): void {
    this.closed = true;
    this.socket?.close(CLOSE.goingAway, reason.slice(0, 120));
    this.socket = undefined;
    this.to16?.close();
    this.to48?.close();
    this.to16 = this.to48 = undefined;
    this.playout = undefined;
  }
}
