/**
 * Demo page: microphone -> server, talking portrait <- server, over one RTCPeerConnection.
 * A small example of the wire API (DESIGN.md "Wire API"):
 *   POST /v1/references (image)            -> { id }
 *   POST /v1/sessions?reference=ID (offer) -> answer, Location: /v1/sessions/{id}
 *   DELETE /v1/sessions/{id}
 *   data channel "control": clear / pose / expression out; frame / stats in.
 */

import type { AvatarDebug, LiveStats, State } from './debugState.ts';
import { uploadReference } from './api.ts';
import { bearerHeaders, HttpError, pageToken, reasonOf, retryAfterOf } from './http.ts';
import { waitForIceGathering } from './iceGathering.ts';
import { $ } from './dom.ts';
import { FaceTracker } from './faceTracker.ts';
import { EXPRESSION_PRESETS, POSE_PRESETS } from './motionPresets.ts';

declare global {
  interface Window {
    __avatar: AvatarDebug;
  }
}

const GATHER_TIMEOUT_MS = 3000;
/** Give up when no video arrives this long after the answer. */
const FIRST_VIDEO_TIMEOUT_MS = 20_000;
const STATS_INTERVAL_MS = 1000;
const LATENCY_WINDOW = 100;

const ui = {
  video: $<HTMLVideoElement>('avatar'),
  placeholder: $('placeholder'),
  start: $<HTMLButtonElement>('start'),
  stop: $<HTMLButtonElement>('stop'),
  clear: $<HTMLButtonElement>('clear'),
  landmarks: $<HTMLInputElement>('landmarks'),
  sound: $<HTMLInputElement>('sound'),
  echo: $<HTMLInputElement>('echo'),
  camera: $<HTMLInputElement>('camera'),
  micOn: $<HTMLInputElement>('mic'),
  mouthMix: $<HTMLSelectElement>('mouth-mix'),
  cameraPreview: $<HTMLVideoElement>('camera-preview'),
  faceStatus: $('face-status'),
  statFace: $('stat-face'),
  portrait: $<HTMLInputElement>('portrait'),
  preview: $<HTMLImageElement>('portrait-preview'),
  expression: $<HTMLInputElement>('expression'),
  status: $('status'),
  error: $('error'),
  statFps: $('stat-fps'),
  statLatency: $('stat-latency'),
  statBitrate: $('stat-bitrate'),
  statDropped: $('stat-dropped'),
  statVideo: $('stat-video'),
  presenterLink: $<HTMLAnchorElement>('presenter-link'),
};

function emptyStats(): LiveStats {
  return {
    fps: 0,
    framesDecoded: 0,
    framesDropped: 0,
    kbps: 0,
    width: 0,
    height: 0,
    codec: null,
    serverLatencyMs: null,
    serverDroppedFrames: null,
  };
}

const debug: AvatarDebug = { state: 'idle', stats: emptyStats(), sessionId: null, referenceId: null, error: null };
window.__avatar = debug;

/** Everything one running session owns; torn down as a unit by stop(). */
interface Session {
  pc: RTCPeerConnection;
  mic: MediaStream;
  channel: RTCDataChannel;
  /** The webcam face tracker and its channel, when the camera drives the face. */
  face: { tracker: FaceTracker; channel: RTCDataChannel; latencies: number[] } | null;
  url: string | null;
  statsTimer: number;
  latencies: number[];
  lastBytes: { bytes: number; at: number } | null;
  lastFrames: { frames: number; at: number } | null;
}

let session: Session | null = null;

// ------------------------------------------------------------------ state and errors

function setState(state: State, detail?: string): void {
  debug.state = state;
  ui.status.textContent = detail ?? state;
  ui.start.disabled = state === 'starting' || state === 'live' || state === 'stopping';
  ui.stop.disabled = !(state === 'starting' || state === 'live');
  ui.clear.disabled = state !== 'live';
  ui.placeholder.hidden = state === 'live';
  if (state !== 'live') ui.placeholder.textContent = state === 'starting' ? 'connecting...' : 'not connected';
}

function showError(message: string | null): void {
  debug.error = message;
  ui.error.hidden = message === null;
  ui.error.textContent = message ?? '';
}

function describeError(error: unknown): string {
  if (error instanceof DOMException && error.name === 'NotAllowedError') return 'microphone permission denied';
  if (error instanceof DOMException && error.name === 'NotFoundError') return 'no microphone found';
  if (error instanceof TypeError && /fetch/i.test(error.message)) return 'cannot reach the server';
  if (error instanceof Error) return error.message;
  return String(error);
}

// ------------------------------------------------------------------ portrait upload

ui.portrait.addEventListener('change', () => {
  const file = ui.portrait.files?.[0];
  if (file) void uploadPortrait(file);
});

function authHeaders(headers: Record<string, string> = {}): Record<string, string> {
  return bearerHeaders(pageToken, headers);
}

async function uploadPortrait(file: File): Promise<void> {
  showError(null);
  ui.status.textContent = 'uploading portrait...';
  try {
    const ref = await uploadReference(file, pageToken);
    debug.referenceId = ref.id;
    ui.preview.src = URL.createObjectURL(file);
    ui.preview.hidden = false;
    ui.status.textContent = session ? 'portrait ready: used by the next session (Stop, then Start)' : 'portrait ready';
  } catch (error) {
    ui.portrait.value = '';
    showError(describeError(error));
    ui.status.textContent = debug.state;
  }
}

// ------------------------------------------------------------------ session

ui.start.addEventListener('click', () => void start());
ui.stop.addEventListener('click', () => void stop());
ui.clear.addEventListener('click', () => sendControl({ type: 'clear' }));
ui.landmarks.addEventListener('change', () => sendControl({ type: 'view', mode: ui.landmarks.checked ? 'landmarks' : 'video' }));
ui.expression.addEventListener('input', () => sendControl({ type: 'expression', scale: Number(ui.expression.value) }));
ui.mouthMix.addEventListener('change', () => sendControl({ type: 'faceMix', mouth: ui.mouthMix.value }));

/** The motion-editing gallery: each button sends its preset (expressions ramp over 400 ms). */
function presetButtons(container: HTMLElement, names: string[], onPick: (name: string) => void): void {
  for (const name of names) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = name;
    button.addEventListener('click', () => onPick(name));
    container.append(button);
  }
}
presetButtons($('expression-presets'), Object.keys(EXPRESSION_PRESETS), (name) => sendControl({ type: 'edit', ...EXPRESSION_PRESETS[name], rampMs: 400 }));
presetButtons($('pose-presets'), Object.keys(POSE_PRESETS), (name) => {
  void POSE_PRESETS[name]!().then(sendControl, (err: unknown) => showError(`pose template: ${describeError(err)}`));
});
ui.sound.addEventListener('change', () => {
  ui.video.muted = !ui.sound.checked;
});
window.addEventListener('pagehide', () => void stop());

function silentAudioTrack(): MediaStreamTrack {
  const context = new AudioContext();
  return context.createMediaStreamDestination().stream.getAudioTracks()[0]!;
}

function sendControl(message: Record<string, unknown>): void {
  if (session?.channel.readyState === 'open') session.channel.send(JSON.stringify(message));
}

async function start(): Promise<void> {
  if (session) return;
  showError(null);
  setState('starting', 'asking for the microphone...');
  debug.stats = emptyStats();
  let mic: MediaStream | null = null;
  let pc: RTCPeerConnection | null = null;
  try {
    const withCamera = ui.camera.checked;
    const withMic = ui.micOn.checked || !withCamera;
    mic = await navigator.mediaDevices.getUserMedia({
      audio: withMic ? { echoCancellation: true, noiseSuppression: true, channelCount: 1 } : false,
      video: withCamera ? { width: 640, height: 480, frameRate: 30 } : false,
    });
    // The camera alone: the session still takes an audio track; a silent one keeps the voice-driven motion at rest.
    if (!withMic) mic.addTrack(silentAudioTrack());
    pc = new RTCPeerConnection();
    const remoteTracks: MediaStreamTrack[] = [];
    pc.addEventListener('track', (event) => {
      remoteTracks.push(event.track);
      // A fresh stream per track: Chromium does not start playback of a track added to a stream
      // that is already the element's srcObject.
      ui.video.srcObject = new MediaStream(remoteTracks);
    });
    for (const track of mic.getAudioTracks()) pc.addTransceiver(track, { direction: 'sendrecv', streams: [mic] });
    pc.addTransceiver('video', { direction: 'recvonly' });
    const channel = pc.createDataChannel('control');
    // Face samples: a late one is worth nothing, so no ordering and no retransmits.
    const faceChannel = withCamera ? pc.createDataChannel('face', { ordered: false, maxRetransmits: 0 }) : null;
    let face: Session['face'] = null;
    if (faceChannel) {
      setState('starting', 'loading the face tracker...');
      ui.cameraPreview.srcObject = new MediaStream(mic.getVideoTracks());
      ui.cameraPreview.hidden = false;
      face = { tracker: await FaceTracker.create(), channel: faceChannel, latencies: [] };
      const started = face;
      faceChannel.addEventListener('open', () => {
        started.tracker.start(ui.cameraPreview, faceChannel);
        sendControl({ type: 'faceMix', mouth: ui.mouthMix.value });
      });
    }

    const current: Session = {
      pc,
      mic,
      channel,
      face,
      url: null,
      statsTimer: 0,
      latencies: [],
      lastBytes: null,
      lastFrames: null,
    };
    session = current;
    channel.addEventListener('message', (event) => onControlMessage(current, event.data));
    // The server closes the channel when it ends the session (DELETE, error, shutdown).
    channel.addEventListener('close', () => {
      if (session === current) void fail(new Error('the server ended the session'));
    });
    pc.addEventListener('connectionstatechange', () => {
      if (session !== current) return;
      const s = current.pc.connectionState;
      if (s === 'failed') void fail(new Error('connection failed'));
      else if (s === 'disconnected') ui.status.textContent = 'connection interrupted, waiting...';
      else if (s === 'connected' && debug.state === 'live') ui.status.textContent = 'live';
    });

    setState('starting', 'connecting...');
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc, GATHER_TIMEOUT_MS);
    const params = new URLSearchParams();
    if (debug.referenceId) params.set('reference', debug.referenceId);
    if (ui.echo.checked) params.set('echo', '1');
    const query = params.size > 0 ? `?${params}` : '';
    const res = await fetch(`/v1/sessions${query}`, {
      method: 'POST',
      headers: authHeaders({ 'content-type': 'application/sdp' }),
      body: pc.localDescription!.sdp,
    });
    if (res.status === 503) {
      const retry = retryAfterOf(res);
      throw new HttpError(retry ? `server full, retry in ${retry} s` : 'server full, retry later', 503, retry);
    }
    if (res.status !== 201) throw new HttpError(`session refused: ${await reasonOf(res)}`, res.status);
    const location = res.headers.get('location');
    current.url = location ? new URL(location, window.location.href).toString() : null;
    debug.sessionId = location ? (location.split('/').filter(Boolean).pop() ?? null) : null;
    const answer = await res.text();
    if (session !== current) return; // stopped while we waited
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });

    current.statsTimer = window.setInterval(() => void pollStats(current), STATS_INTERVAL_MS);
    await waitForVideo(current);
    if (session !== current) return;
    setState('live', 'live');
  } catch (error) {
    if (session === null && (debug.state === 'idle' || debug.state === 'stopping' || debug.state === 'error')) {
      return; // Stop was pressed, or the session already failed, while we waited
    }
    if (!session) {
      // Failed before a session existed: release what was acquired.
      mic?.getTracks().forEach((t) => t.stop());
      pc?.close();
    }
    await fail(error);
  }
}

/** Resolves on the first decoded frame; rejects after FIRST_VIDEO_TIMEOUT_MS. Settles quietly if stopped. */
function waitForVideo(current: Session): Promise<void> {
  const video = ui.video;
  if (video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA && video.videoWidth > 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = window.setTimeout(() => {
      cleanup();
      if (session === current) reject(new Error(`no video from the server within ${FIRST_VIDEO_TIMEOUT_MS / 1000} s`));
      else resolve();
    }, FIRST_VIDEO_TIMEOUT_MS);
    // Media events are the fast path; the poll covers a stopped session and any missed event.
    const poll = window.setInterval(() => {
      if (session !== current || (video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA && video.videoWidth > 0)) done();
    }, 250);
    function cleanup(): void {
      window.clearTimeout(timer);
      window.clearInterval(poll);
      video.removeEventListener('loadeddata', done);
      video.removeEventListener('playing', done);
    }
    function done(): void {
      cleanup();
      resolve();
    }
    video.addEventListener('loadeddata', done);
    video.addEventListener('playing', done);
  });
}

async function fail(error: unknown): Promise<void> {
  if (debug.state === 'error') return;
  await teardown();
  showError(describeError(error));
  setState('error', 'stopped');
}

async function stop(): Promise<void> {
  if (!session) return;
  setState('stopping', 'stopping...');
  await teardown();
  if (pageToken) ui.presenterLink.href = `/presenter?token=${encodeURIComponent(pageToken)}`;
setState('idle', 'idle');
}

/** One exit for Stop, errors and page unload: DELETE the session, close the peer, release the mic. */
async function teardown(): Promise<void> {
  const current = session;
  session = null;
  if (!current) return;
  window.clearInterval(current.statsTimer);
  current.face?.tracker.stop();
  ui.cameraPreview.srcObject = null;
  ui.cameraPreview.hidden = true;
  ui.faceStatus.textContent = '';
  current.mic.getTracks().forEach((t) => t.stop());
  current.pc.close();
  ui.video.srcObject = null;
  if (current.url) {
    // keepalive lets the DELETE outlive a page that is being closed.
    await fetch(current.url, { method: 'DELETE', keepalive: true, headers: authHeaders() }).catch(() => undefined);
  }
}

// ------------------------------------------------------------------ stats

function onControlMessage(current: Session, data: unknown): void {
  if (typeof data !== 'string') return;
  let message: Record<string, unknown>;
  try {
    message = JSON.parse(data) as Record<string, unknown>;
  } catch {
    return;
  }
  if (message.type === 'frame' && typeof message.latencyMs === 'number') {
    current.latencies.push(message.latencyMs);
    if (current.latencies.length > LATENCY_WINDOW) current.latencies.shift();
  }
  if (message.type === 'frame' && typeof message.faceT === 'number' && current.face) {
    // The server echoes the timestamp of the face sample each frame shows: camera frame -> avatar frame sent.
    current.face.latencies.push(performance.timeOrigin + performance.now() - message.faceT);
    if (current.face.latencies.length > LATENCY_WINDOW) current.face.latencies.shift();
  } else if (message.type === 'stats') {
    const dropped = message.framesDropped ?? message.droppedFrames;
    if (typeof dropped === 'number') debug.stats.serverDroppedFrames = dropped;
  } else if (message.type === 'degraded') {
    showError(`the server is overloaded: this call's video runs at ${String(message.fps)} fps for now`);
  } else if (message.type === 'restored') {
    showError(null);
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function pollStats(current: Session): Promise<void> {
  if (session !== current) return;
  const report = await current.pc.getStats();
  const stats = debug.stats;
  const now = performance.now();
  report.forEach((entry: Record<string, unknown>) => {
    if (entry.type !== 'inbound-rtp' || entry.kind !== 'video') return;
    const frames = Number(entry.framesDecoded ?? 0);
    const bytes = Number(entry.bytesReceived ?? 0);
    stats.framesDecoded = frames;
    stats.framesDropped = Number(entry.framesDropped ?? 0);
    stats.width = Number(entry.frameWidth ?? ui.video.videoWidth);
    stats.height = Number(entry.frameHeight ?? ui.video.videoHeight);
    if (typeof entry.framesPerSecond === 'number') stats.fps = entry.framesPerSecond;
    else if (current.lastFrames) stats.fps = ((frames - current.lastFrames.frames) * 1000) / (now - current.lastFrames.at);
    if (current.lastBytes) stats.kbps = ((bytes - current.lastBytes.bytes) * 8) / (now - current.lastBytes.at);
    current.lastFrames = { frames, at: now };
    current.lastBytes = { bytes, at: now };
    const codec = report.get(String(entry.codecId)) as { mimeType?: string } | undefined;
    stats.codec = codec?.mimeType?.replace(/^video\//, '') ?? null;
  });
  if (current.face) {
    const f = current.face.tracker.stats();
    const l = current.face.latencies;
    stats.face = { rate: f.rate, detectMs: f.detectMs, found: f.found, latencyMs: l.length ? { p50: percentile(l, 50), p95: percentile(l, 95) } : null };
    ui.faceStatus.textContent = f.found ? `face: ${f.rate.toFixed(0)} samples/s, ${f.detectMs.toFixed(0)} ms each` : 'no face in view: the voice drives';
  }
  stats.serverLatencyMs = current.latencies.length
    ? { last: current.latencies.at(-1)!, p50: percentile(current.latencies, 50), p95: percentile(current.latencies, 95) }
    : null;
  renderStats(stats);
}

function renderStats(s: LiveStats): void {
  ui.statFps.textContent = s.fps.toFixed(1);
  ui.statLatency.textContent = s.serverLatencyMs
    ? `${Math.round(s.serverLatencyMs.p50)} / ${Math.round(s.serverLatencyMs.p95)} ms`
    : '-';
  ui.statLatency.title = 'server-side p50 / p95';
  ui.statBitrate.textContent = `${Math.round(s.kbps)} kbps`;
  ui.statDropped.textContent = `${s.framesDropped}` + (s.serverDroppedFrames === null ? '' : ` + ${s.serverDroppedFrames} srv`);
  ui.statVideo.textContent = s.width ? `${s.width}x${s.height} ${s.codec ?? ''}`.trim() : '-';
  ui.statFace.textContent = s.face?.latencyMs ? `${Math.round(s.face.latencyMs.p50)} / ${Math.round(s.face.latencyMs.p95)} ms` : '-';
  ui.statFace.title = 'camera frame measured -> avatar frame sent, p50 / p95';
}

if (pageToken) ui.presenterLink.href = `/presenter?token=${encodeURIComponent(pageToken)}`;
setState('idle', 'idle');
