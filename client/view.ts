/**
 * Viewer page, `/view/{id}[?token=...]`: plays one session's avatar video and voice over WHEP, full window and
 * nothing else (an OBS Browser Source). Reconnects on its own: the session may not exist yet (404), may be full
 * (503), or the connection may drop.
 */
import type { ViewerDebug, ViewerState } from './debugState.ts';
import { HttpError, pageToken } from './http.ts';
import { summarizeInbound } from './viewerStats.ts';
import { openWhepSession, type WhepSession } from './whepSession.ts';
import { $ } from './dom.ts';

declare global {
  interface Window {
    __viewer: ViewerDebug;
  }
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;
/** A session that does not exist yet is polled at most this far apart, so playback starts soon after it does. */
const WAITING_RETRY_MAX_MS = 3_000;
/** Chromium reports 'disconnected' on short outages and may recover; give up on the connection after this. */
const DISCONNECTED_GRACE_MS = 5_000;
/** No media bytes for this long (or none at all after connecting) ends the connection. */
const STALL_MS = 8_000;
const WATCH_INTERVAL_MS = 1_000;

const ui = {
  video: $<HTMLVideoElement>('avatar'),
  status: $('status'),
  sound: $<HTMLButtonElement>('sound'),
};

/** `/view/{id}` -> id. */
function sessionIdFromPath(pathname: string): string | null {
  const parts = pathname.split('/').filter(Boolean);
  return parts[0] === 'view' && parts[1] ? decodeURIComponent(parts[1]) : null;
}

const sessionId = sessionIdFromPath(location.pathname);
let current: WhepSession | null = null;
let stopped = false;

const debug: ViewerDebug = {
  state: 'connecting',
  sessionId,
  attempts: 0,
  lastError: null,
  mutedByAutoplay: false,
  stats: () => summarizeInbound(current?.pc ?? null),
};
window.__viewer = debug;

function setState(state: ViewerState, detail: string): void {
  debug.state = state;
  ui.status.textContent = detail;
  ui.status.hidden = state === 'playing';
}

// ------------------------------------------------------------------ sound

async function startPlayback(): Promise<void> {
  ui.video.muted = debug.mutedByAutoplay;
  try {
    await ui.video.play();
  } catch (error) {
    if (!(error instanceof DOMException) || error.name !== 'NotAllowedError') return; // AbortError: a newer stream replaced this one
    // Autoplay with sound refused: play muted and offer sound on the first click.
    debug.mutedByAutoplay = true;
    ui.video.muted = true;
    ui.sound.hidden = false;
    await ui.video.play().catch(() => undefined);
  }
}

function enableSound(): void {
  if (!debug.mutedByAutoplay) return;
  debug.mutedByAutoplay = false;
  ui.sound.hidden = true;
  ui.video.muted = false;
  void ui.video.play().catch(() => undefined);
}

// A click anywhere counts: in OBS "Interact" the button is small.
document.addEventListener('click', enableSound);

function attachStream(stream: MediaStream): void {
  ui.video.srcObject = stream;
  void startPlayback();
}

// ------------------------------------------------------------------ one connection

const hasFrames = (): boolean => ui.video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA && ui.video.videoWidth > 0;

/** Resolves with the reason once this connection is over: failed, closed, stalled, or the page is leaving. */
function watchUntilEnded(session: WhepSession, onPlaying: () => void): Promise<string> {
  const { pc } = session;
  return new Promise((resolve) => {
    let disconnectedAt: number | null = null;
    let lastBytes = -1;
    let lastProgressAt = performance.now();
    let playing = false;
    let ended = false;

    const finish = (reason: string): void => {
      ended = true;
      window.clearInterval(timer);
      pc.removeEventListener('connectionstatechange', onConnectionChange);
      resolve(reason);
    };
    const onConnectionChange = (): void => {
      const state = pc.connectionState;
      if (state === 'failed' || state === 'closed') finish(`connection ${state}`);
      else if (state === 'disconnected') disconnectedAt ??= performance.now();
      else if (state === 'connected') disconnectedAt = null;
    };
    pc.addEventListener('connectionstatechange', onConnectionChange);

    const timer = window.setInterval(() => {
      void (async () => {
        if (stopped) return finish('page closed');
        const now = performance.now();
        if (disconnectedAt !== null && now - disconnectedAt > DISCONNECTED_GRACE_MS) return finish('connection lost');
        const stats = await summarizeInbound(pc).catch(() => null);
        if (ended) return; // finished while getStats() ran
        const bytes = (stats?.video?.bytesReceived ?? 0) + (stats?.audio?.bytesReceived ?? 0);
        if (bytes > lastBytes) {
          lastBytes = bytes;
          lastProgressAt = now;
        } else if (now - lastProgressAt > STALL_MS) {
          return finish(bytes === 0 ? 'no media arrived' : 'media stopped');
        }
        if (!playing && pc.connectionState === 'connected' && hasFrames()) {
          playing = true;
          onPlaying();
        }
      })();
    }, WATCH_INTERVAL_MS);
  });
}

interface Outcome {
  reason: string;
  /** The session is not there (yet): poll rather than back off far. */
  waiting: boolean;
  /** The server said when to come back. */
  retryAfterMs: number | null;
}

async function connectOnce(endpoint: string, onPlaying: () => void): Promise<Outcome> {
  debug.attempts += 1;
  let session: WhepSession;
  try {
    session = await openWhepSession(endpoint, pageToken, attachStream);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (error instanceof HttpError) {
      return { reason, waiting: error.status === 404, retryAfterMs: error.retryAfterS === null ? null : error.retryAfterS * 1000 };
    }
    return { reason: /fetch/i.test(reason) ? 'cannot reach the server' : reason, waiting: false, retryAfterMs: null };
  }
  current = session;
  const reason = await watchUntilEnded(session, onPlaying);
  session.close();
  if (current === session) current = null;
  return { reason, waiting: false, retryAfterMs: null };
}

// ------------------------------------------------------------------ reconnect loop

const sleep = (ms: number): Promise<void> => new Promise((resolve) => window.setTimeout(resolve, ms));

let running = false;

async function run(id: string): Promise<void> {
  if (running) return;
  running = true;
  const endpoint = new URL(`/v1/sessions/${encodeURIComponent(id)}/whep`, location.origin).toString();
  let backoffMs = RETRY_MIN_MS;
  try {
    while (!stopped) {
      if (debug.attempts === 0) setState('connecting', 'connecting...');
      const outcome = await connectOnce(endpoint, () => {
        backoffMs = RETRY_MIN_MS;
        debug.lastError = null;
        setState('playing', '');
      });
      if (stopped) break;
      debug.lastError = outcome.reason;
      const cap = outcome.waiting ? WAITING_RETRY_MAX_MS : RETRY_MAX_MS;
      // Jitter keeps many viewers of one restarted server from reconnecting in lockstep.
      const delayMs = outcome.retryAfterMs ?? Math.min(backoffMs, cap) * (0.8 + 0.4 * Math.random());
      backoffMs = Math.min(backoffMs * 2, cap);
      if (outcome.waiting) setState('waiting', `waiting for session ${id}...`);
      else setState('reconnecting', `${outcome.reason}; reconnecting in ${Math.max(1, Math.round(delayMs / 1000))} s...`);
      await sleep(delayMs);
    }
  } finally {
    running = false;
  }
}

window.addEventListener('pagehide', () => {
  stopped = true;
  current?.close();
});
window.addEventListener('pageshow', (event) => {
  // Back from the back/forward cache: the old connection was closed on pagehide.
  if (event.persisted && sessionId) {
    stopped = false;
    void run(sessionId);
  }
});

if (sessionId) void run(sessionId);
else setState('waiting', 'no session id in the address: open /view/{session id}');
