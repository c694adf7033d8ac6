/**
 * Presenter page, `/presenter`: choose a portrait and a voice source, create or pick a session, and hand out its
 * viewer, WHEP and WebSocket audio URLs with a live preview.
 */
import { pageToken } from './http.ts';
import {
  createWebSocketSession,
  deleteSession,
  listSessions,
  uploadReference,
  type AudioSampleRate,
  type SessionSummary,
} from './api.ts';
import { sessionUrls, whipUrl, type SessionPaths } from './sessionUrls.ts';
import { $ } from './dom.ts';

const SESSIONS_POLL_MS = 3000;

const ui = {
  portrait: $<HTMLInputElement>('portrait'),
  portraitPreview: $<HTMLImageElement>('portrait-preview'),
  portraitName: $('portrait-name'),
  portraitDefault: $<HTMLButtonElement>('portrait-default'),
  sources: [...document.querySelectorAll<HTMLInputElement>('input[name="source"]')],
  sampleRate: $<HTMLSelectElement>('sample-rate'),
  create: $<HTMLButtonElement>('create'),
  whipUrl: $<HTMLInputElement>('whip-url'),
  token: $<HTMLInputElement>('token'),
  demoLink: $<HTMLAnchorElement>('demo-link'),
  micLink: $<HTMLAnchorElement>('mic-link'),
  session: $('session'),
  sessionId: $('session-id'),
  urlView: $<HTMLInputElement>('url-view'),
  urlWhep: $<HTMLInputElement>('url-whep'),
  urlAudio: $<HTMLInputElement>('url-audio'),
  preview: $<HTMLIFrameElement>('live-preview'),
  delete: $<HTMLButtonElement>('delete'),
  sessions: $<HTMLUListElement>('sessions'),
  status: $('status'),
  error: $('error'),
};

let referenceId: string | null = null;
let shownSessionId: string | null = null;

const token = (): string | null => ui.token.value.trim() || null;

function showError(error: unknown): void {
  const message = error === null ? null : error instanceof Error ? error.message : String(error);
  ui.error.hidden = message === null;
  ui.error.textContent = message ?? '';
}

function setStatus(text: string): void {
  ui.status.textContent = text;
}

// ------------------------------------------------------------------ portrait

ui.portrait.addEventListener('change', () => {
  const file = ui.portrait.files?.[0];
  if (file) void choosePortrait(file);
});
ui.portraitDefault.addEventListener('click', () => {
  referenceId = null;
  ui.portrait.value = '';
  ui.portraitPreview.hidden = true;
  ui.portraitName.textContent = 'default portrait';
  ui.portraitDefault.hidden = true;
  renderSourceDetails();
});

async function choosePortrait(file: File): Promise<void> {
  showError(null);
  setStatus('uploading portrait...');
  try {
    const ref = await uploadReference(file, token());
    referenceId = ref.id;
    ui.portraitPreview.src = URL.createObjectURL(file);
    ui.portraitPreview.hidden = false;
    ui.portraitName.textContent = file.name;
    ui.portraitDefault.hidden = false;
    setStatus('portrait ready: used by the next session');
  } catch (error) {
    ui.portrait.value = '';
    showError(error);
    setStatus('');
  }
  renderSourceDetails();
}

// ------------------------------------------------------------------ source

const selectedSource = (): string => ui.sources.find((input) => input.checked)?.value ?? 'websocket';

/** Links and the WHIP URL depend on the portrait and the token; keep them current. */
function renderSourceDetails(): void {
  const source = selectedSource();
  for (const name of ['websocket', 'whip', 'microphone']) $(`source-${name}`).hidden = name !== source;
  ui.whipUrl.value = whipUrl(location.origin, referenceId);
  const demo = token() ? `/?token=${encodeURIComponent(token()!)}` : '/';
  ui.demoLink.href = demo;
  ui.micLink.href = demo;
  if (shownSessionId) showSession(shownSessionId);
}

for (const input of ui.sources) input.addEventListener('change', renderSourceDetails);
ui.token.addEventListener('input', renderSourceDetails);

ui.create.addEventListener('click', () => void createSession());

async function createSession(): Promise<void> {
  showError(null);
  ui.create.disabled = true;
  setStatus('creating session...');
  try {
    const created = await createWebSocketSession(Number(ui.sampleRate.value) as AudioSampleRate, referenceId, token());
    showSession(created.id, created);
    setStatus(`session ${created.id} created: stream audio to the WebSocket URL`);
    void refreshSessions();
  } catch (error) {
    showError(error);
    setStatus('');
  } finally {
    ui.create.disabled = false;
  }
}

// ------------------------------------------------------------------ one session

function showSession(id: string, paths: SessionPaths = {}): void {
  const urls = sessionUrls(location.origin, id, token(), paths);
  const changed = id !== shownSessionId || ui.preview.src !== urls.view;
  shownSessionId = id;
  ui.session.hidden = false;
  ui.sessionId.textContent = id;
  ui.urlView.value = urls.view;
  ui.urlWhep.value = urls.whep;
  ui.urlAudio.value = urls.audio;
  if (changed) ui.preview.src = urls.view;
}

function hideSession(): void {
  shownSessionId = null;
  ui.session.hidden = true;
  // Unloading the viewer ends its WHEP connection.
  ui.preview.src = 'about:blank';
}

ui.delete.addEventListener('click', () => void removeShownSession());

async function removeShownSession(): Promise<void> {
  const id = shownSessionId;
  if (!id) return;
  showError(null);
  try {
    await deleteSession(id, token());
    hideSession();
    setStatus(`session ${id} deleted`);
  } catch (error) {
    showError(error);
  }
  void refreshSessions();
}

document.addEventListener('click', (event) => {
  const button = (event.target as HTMLElement | null)?.closest<HTMLButtonElement>('button[data-copy]');
  const field = button ? document.getElementById(button.dataset.copy ?? '') : null;
  if (!button || !(field instanceof HTMLInputElement)) return;
  void navigator.clipboard.writeText(field.value).then(
    () => flash(button, 'Copied'),
    () => {
      // No clipboard permission (plain http on another host): leave it selected for Ctrl+C.
      field.select();
      flash(button, 'Select');
    },
  );
});

function flash(button: HTMLButtonElement, text: string): void {
  const original = button.dataset.label ?? button.textContent ?? '';
  button.dataset.label = original;
  button.textContent = text;
  window.setTimeout(() => (button.textContent = original), 1200);
}

// ------------------------------------------------------------------ running sessions

function describeSession(s: SessionSummary): string {
  const parts = [s.source, s.state, typeof s.viewers === 'number' ? `${s.viewers} viewer${s.viewers === 1 ? '' : 's'}` : null];
  return parts.filter((p): p is string => typeof p === 'string' && p.length > 0).join(', ');
}

async function refreshSessions(): Promise<void> {
  let list: SessionSummary[];
  try {
    list = await listSessions(token());
  } catch {
    return; // auth not entered yet, or the server is restarting: the next poll tries again
  }
  ui.sessions.replaceChildren(
    ...list.map((s) => {
      const item = document.createElement('li');
      const id = document.createElement('code');
      id.textContent = s.id;
      const info = document.createElement('span');
      info.className = 'muted';
      info.textContent = describeSession(s);
      const open = document.createElement('button');
      open.type = 'button';
      open.textContent = s.id === shownSessionId ? 'shown' : 'Show';
      open.disabled = s.id === shownSessionId;
      open.addEventListener('click', () => {
        showSession(s.id);
        void refreshSessions();
      });
      item.append(id, info, open);
      return item;
    }),
  );
  if (list.length === 0) {
    const empty = document.createElement('li');
    empty.className = 'muted';
    empty.textContent = 'none';
    ui.sessions.append(empty);
  }
  // Ended elsewhere (an encoder stopped, the idle timeout): stop previewing it.
  if (shownSessionId && !list.some((s) => s.id === shownSessionId)) {
    setStatus(`session ${shownSessionId} ended`);
    hideSession();
  }
}

ui.token.value = pageToken ?? '';
renderSourceDetails();
void refreshSessions();
window.setInterval(() => {
  if (document.visibilityState === 'visible') void refreshSessions();
}, SESSIONS_POLL_MS);
