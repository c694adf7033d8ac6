/**
 * `npm run loadtest -- --av-sync`: one voice agent (WebSocket) speaking syllable bursts for --duration seconds,
 * watched by K WHEP viewers (--viewers K, or a list to compare server CPU, e.g. 1,10). The first viewer decodes
 * video and voice and measures the A/V offset from content (avSync.ts); each --window (default 60 s) prints
 * its mean and p95 |offset|, the server's ingest latency (agent audio played -> frame on the wire, from the
 * session's stats) and the server's CPU; the end prints the drift (slope of the offset, ms per minute).
 */
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { linearSlope, offsetStats, type OffsetStats, type OnsetPair } from './avSync.ts';
import { burstSequence, synthesizeSpeech } from './burstSpeech.ts';
import { ProcSampler, type ProcSample } from './procSampler.ts';
import { startServerProcess, type ServerProcess } from './serverProcess.ts';
import { authHeader } from './serverRequests.ts';
import type { StopSignal } from './stopSignal.ts';
import { fmt, printTable, round } from './table.ts';
import { VoiceAgentClient, type AgentSampleRate } from './VoiceAgentClient.ts';
import { ViewerSyncRecorder } from './ViewerSyncRecorder.ts';
import { WhepViewer } from './WhepViewer.ts';

export interface AvSyncSoakOptions {
  durationS: number;
  /** One run per count, each against a fresh server (when it starts one). */
  viewerCounts: number[];
  windowS: number;
  url: string | null;
  config: string | null;
  /** taskset CPU list for the server it starts; null: not pinned. */
  serverCpus: string | null;
  reference: string | null;
  token: string | null;
  sampleRate: AgentSampleRate;
  outPath: string;
}

/** Bursts per block the agent sends; a block is about 10 s of audio. */
const BURSTS_PER_BLOCK = 10;
// Silence between syllables: the learned mouth keeps moving up to 800 ms into a pause (as real speakers' mouths do),
// and a mouth onset counts only after 300 ms at rest.
const GAP_MS = 1500;
/** The agent tops the server's buffer up when it falls below this, ms. */
const TOP_UP_BELOW_MS = 3000;
/** Sounds this close to the newest audio wait for the next window (their mouth onset may not have arrived), ms. */
const ANALYSIS_MARGIN_MS = 2000;

interface WindowRow {
  window: number;
  endS: number;
  stats: OffsetStats | null;
  unmatched: number;
  fps: number;
  extraViewersMinFps: number | null;
  latencyP50: number | null;
  latencyP95: number | null;
  cpuMeanPct: number | null;
  rssMiB: number | null;
  underrunMs: number | null;
}

interface RunResult {
  viewers: number;
  windows: WindowRow[];
  overall: OffsetStats | null;
  /** Slope of each pair's offset against its time, ms per minute. */
  driftMsPerMin: number | null;
  serverCpuMeanPct: number | null;
  serverCpuMaxPct: number | null;
  /** The session's render + encode per frame (its own averages, ms) and which path its outputs took. */
  renderEncodeMs: number | null;
  fanout: { native: number; werift: number } | null;
  /** CPU the server spent sending to the outputs (its own measure, thread CPU time), % of a core; null if unknown. */
  sendCpuPct: number | null;
  pairs: OnsetPair[];
  serverSamples: ProcSample[];
  error: string | null;
}

export async function runAvSyncSoak(opts: AvSyncSoakOptions, stop: StopSignal): Promise<number> {
  const syllable = await synthesizeSpeech(opts.sampleRate);
  const block = burstSequence(syllable, { sampleRate: opts.sampleRate, count: BURSTS_PER_BLOCK, gapMs: GAP_MS, tailMs: 0 });
  console.log(
    `loadtest --av-sync: ${opts.durationS} s per run, viewers ${opts.viewerCounts.join(',')}, report every ${opts.windowS} s; ` +
      `agent at ${opts.sampleRate} Hz sends "la" bursts every ${round((block.pcm.length / opts.sampleRate / BURSTS_PER_BLOCK) * 1000)} ms`,
  );
  const runs: RunResult[] = [];
  for (const count of opts.viewerCounts) {
    if (stop.requested) break;
    console.log(`\n=== ${count} WHEP viewer(s)`);
    runs.push(await runOnce(opts, count, block.pcm, stop));
  }

  if (runs.length > 1) {
    console.log('\nserver CPU by viewer count (100% = one core)');
    printTable([
      ['viewers', 'cpu mean', 'cpu max', 'offset mean', 'p95 |off|', 'drift ms/min', 'lat p95'],
      ...runs.map((r) => [
        String(r.viewers),
        `${fmt(r.serverCpuMeanPct)}%`,
        `${fmt(r.serverCpuMaxPct)}%`,
        fmt(r.overall?.mean, 1),
        fmt(r.overall?.p95Abs, 1),
        fmt(r.driftMsPerMin, 2),
        fmt(r.windows.at(-1)?.latencyP95),
      ]),
    ]);
    const cost = viewerCost(runs);
    if (cost) {
      console.log(
        `viewer cost: ${fmt(cost.perViewerPct, 2)}% of a core each (${cost.fromViewers} -> ${cost.toViewers} viewers, send path ${cost.path}); ` +
          `${cost.toViewers} viewers ${fmt(cost.viewersPct, 1)}% = ${fmt(cost.ofRenderEncodePct, 1)}% of the session's render + encode ` +
          `(${fmt(cost.renderEncodeMs, 2)} ms a frame at ${fmt(cost.fps, 1)} fps = ${fmt(cost.renderEncodePct, 1)}% of a core)` +
          (cost.sendingPct === null ? '' : `; the sending itself ${fmt(cost.sendingPct, 2)}% = ${fmt(cost.sendingOfRenderEncodePct, 1)}%`),
      );
    }
  }
  const report = {
    startedAt: new Date().toISOString(),
    options: opts,
    viewerCost: viewerCost(runs),
    runs: runs.map((r) => ({ ...r, pairs: r.pairs.map((p) => ({ audioMs: round(p.audioMs, 1), offsetMs: round(p.offsetMs, 1) })) })),
  };
  await writeFile(opts.outPath, JSON.stringify(report, null, 2) + '\n');
  console.log(`report: ${opts.outPath}`);
  return runs.every((r) => r.error === null && r.overall !== null) ? 0 : 1;
}

async function runOnce(opts: AvSyncSoakOptions, viewerCount: number, blockPcm: Float32Array, stop: StopSignal): Promise<RunResult> {
  let server: ServerProcess | null = null;
  let baseUrl = opts.url;
  if (!baseUrl) {
    server = await startServerProcess(opts.config, opts.outPath.replace(/\.json$/, '') + `.v${viewerCount}.server.log`, opts.serverCpus);
    baseUrl = server.url;
    console.log(`server pid ${server.child.pid} ${baseUrl}`);
  }
  const token = opts.token ?? undefined;
  const t0 = performance.now();
  const sampler = server ? new ProcSampler(server.child.pid!, t0) : null;
  const result: RunResult = { viewers: viewerCount, windows: [], overall: null, driftMsPerMin: null, serverCpuMeanPct: null, serverCpuMaxPct: null, renderEncodeMs: null, fanout: null, sendCpuPct: null, pairs: [], serverSamples: [], error: null };
  let agent: VoiceAgentClient | null = null;
  const viewers: WhepViewer[] = [];
  let recorder: ViewerSyncRecorder | null = null;
  let feeding: Promise<void> = Promise.resolve();
  try {
    const reference = opts.reference ?? 'default';
    const refRes = await fetch(`${baseUrl}/v1/references/${encodeURIComponent(reference)}`, { headers: authHeader(token) });
    if (!refRes.ok) throw new Error(`GET /v1/references/${reference}: ${refRes.status}`);
    const { landmarks } = (await refRes.json()) as { landmarks: number[][] };
    agent = await VoiceAgentClient.connect({ baseUrl, sampleRate: opts.sampleRate, ...(token ? { token } : {}), ...(opts.reference ? { referenceId: opts.reference } : {}) });
    const sessionUrl = agent.sessionUrl;
    recorder = new ViewerSyncRecorder({ landmarks });
    const rec = recorder;
    for (let i = 0; i < viewerCount; i++) {
      const viewer = new WhepViewer({
        baseUrl,
        sessionId: agent.session.id,
        keep: false,
        ...(token ? { token } : {}),
        // Only the first viewer decodes: the others stand for browsers, whose decoding is not the server's cost.
        ...(i === 0 ? { onFrame: rec.onFrame, onAudio: rec.onAudio } : {}),
      });
      viewers.push(viewer);
      await viewer.connect();
    }
    await Promise.all(viewers.map((v) => v.waitForConnected()));
    await viewers[0]!.waitForFrames(25);
    sampler?.start();
    const sendAtStart = await fetchSession(sessionUrl, token);
    const sendFrom = { ms: sendAtStart?.fanout?.sendCpuMs ?? null, t: performance.now() };

    const deadline = performance.now() + opts.durationS * 1000;
    const speaker = agent;
    feeding = (async () => {
      while (!stop.requested && performance.now() < deadline && speaker.isOpen) {
        if (speaker.bufferedMs < TOP_UP_BELOW_MS) await speaker.sendPcm(blockPcm, { speed: 2 });
        else await stop.sleep(200);
      }
    })();

    const main = viewers[0]!;
    let firstSoundMs: number | null = null;
    let analysedToMs = -Infinity;
    let windowStart = performance.now();
    let framesAtWindowStart = viewers.map((v) => v.getStats().frames);
    for (let w = 1; !stop.requested && performance.now() < deadline; w++) {
      await stop.sleep(Math.min(windowStart + opts.windowS * 1000, deadline) - performance.now());
      const now = performance.now();
      await rec.flush();
      const newestAudio = main.lastAudioRtp === null ? null : main.audioClock.toNtpMs(main.lastAudioRtp);
      // The first syllable after the silence of the start opens early whatever it is (see burstSpeech.ts): warm-up.
      if (firstSoundMs === null) firstSoundMs = rec.analyze(main.videoClock, main.audioClock).audioOnsetsMs[0] ?? null;
      const fromMs = Math.max(analysedToMs, firstSoundMs === null ? -Infinity : firstSoundMs + 1);
      const toMs = newestAudio === null ? -Infinity : newestAudio - ANALYSIS_MARGIN_MS;
      const win = rec.analyze(main.videoClock, main.audioClock, { fromMs, toMs });
      analysedToMs = Math.max(analysedToMs, toMs);
      result.pairs.push(...win.pairs);
      rec.forgetAudioBefore(now - 10_000);

      const spanS = (now - windowStart) / 1000;
      const fpsNow = viewers.map((v, i) => (v.getStats().frames - framesAtWindowStart[i]!) / spanS);
      const session = await fetchSession(sessionUrl, token);
      if (session?.renderMsAvg !== undefined && session.encodeMsAvg !== undefined) result.renderEncodeMs = round(session.renderMsAvg + session.encodeMsAvg, 2);
      if (session?.fanout) result.fanout = { native: session.fanout.native, werift: session.fanout.werift };
      const sendMs = session?.fanout?.sendCpuMs;
      if (typeof sendMs === 'number' && sendFrom.ms !== null) result.sendCpuPct = round(((sendMs - sendFrom.ms) / (performance.now() - sendFrom.t)) * 100, 2);
      const samples = sampler?.samples.filter((s) => s.tMs >= windowStart - t0) ?? [];
      const row: WindowRow = {
        window: w,
        endS: round((now - t0) / 1000, 1),
        stats: win.stats,
        unmatched: win.unmatchedAudio,
        fps: round(fpsNow[0]!, 1),
        extraViewersMinFps: fpsNow.length > 1 ? round(Math.min(...fpsNow.slice(1)), 1) : null,
        latencyP50: session?.latencyMs?.p50 ?? null,
        latencyP95: session?.latencyMs?.p95 ?? null,
        cpuMeanPct: samples.length ? round(samples.reduce((a, s) => a + s.cpuPct, 0) / samples.length, 1) : null,
        rssMiB: samples.at(-1)?.rssMiB ?? null,
        underrunMs: session?.agent?.underrunMs ?? null,
      };
      result.windows.push(row);
      console.log(
        `  window ${w} (t=${fmt(row.endS)} s): A/V offset mean ${fmt(row.stats?.mean, 1)} ms, p95 |offset| ${fmt(row.stats?.p95Abs, 1)} ms ` +
          `(${row.stats?.count ?? 0} syllables, ${row.unmatched} unpaired)  fps ${fmt(row.fps, 1)}` +
          (row.extraViewersMinFps === null ? '' : ` (others >= ${fmt(row.extraViewersMinFps, 1)})`) +
          `  ingest latency p50 ${fmt(row.latencyP50)} / p95 ${fmt(row.latencyP95)} ms` +
          (row.cpuMeanPct === null ? '' : `  server cpu ${fmt(row.cpuMeanPct)}% rss ${fmt(row.rssMiB)} MiB`),
      );
      windowStart = now;
      framesAtWindowStart = viewers.map((v) => v.getStats().frames);
    }
  } catch (error) {
    result.error = (error as Error).message;
    console.error(`loadtest --av-sync: ${(error as Error).message}`);
  } finally {
    sampler?.stop();
    await Promise.all(viewers.map((v) => v.close()));
    await agent?.close({ endSession: true }); // also stops a sendPcm() in progress
    await feeding.catch(() => undefined);
    recorder?.close();
    await server?.stop();
  }

  result.overall = offsetStats(result.pairs.map((p) => p.offsetMs));
  const firstPair = result.pairs[0]?.audioMs ?? 0;
  const slope = linearSlope(result.pairs.map((p) => ({ x: (p.audioMs - firstPair) / 60_000, y: p.offsetMs })));
  result.driftMsPerMin = slope === null ? null : round(slope, 2);
  const samples = sampler?.samples ?? [];
  result.serverSamples = samples;
  result.serverCpuMeanPct = samples.length ? round(samples.reduce((a, s) => a + s.cpuPct, 0) / samples.length, 1) : null;
  result.serverCpuMaxPct = samples.length ? Math.max(...samples.map((s) => s.cpuPct)) : null;

  console.log('');
  printTable([
    ['window', 'end s', 'pairs', 'mean ms', 'p95 |off|', 'min', 'max', 'fps', 'lat p50', 'lat p95', 'cpu %'],
    ...result.windows.map((r) => [
      String(r.window),
      fmt(r.endS),
      String(r.stats?.count ?? 0),
      fmt(r.stats?.mean, 1),
      fmt(r.stats?.p95Abs, 1),
      fmt(r.stats?.min, 1),
      fmt(r.stats?.max, 1),
      fmt(r.fps, 1),
      fmt(r.latencyP50),
      fmt(r.latencyP95),
      fmt(r.cpuMeanPct),
    ]),
    [
      'all',
      '',
      String(result.overall?.count ?? 0),
      fmt(result.overall?.mean, 1),
      fmt(result.overall?.p95Abs, 1),
      fmt(result.overall?.min, 1),
      fmt(result.overall?.max, 1),
      '',
      '',
      '',
      fmt(result.serverCpuMeanPct),
    ],
  ]);
  console.log(
    `drift: ${fmt(result.driftMsPerMin, 2)} ms per minute (slope of each syllable's offset over the run; offset = mouth opening - sound onset, ` +
      `both on the sender-report clock)` + (result.error ? `\nerror: ${result.error}` : ''),
  );
  return result;
}

/**
 * What the viewers cost, from the runs with the fewest and the most viewers: the CPU difference per added viewer,
 * scaled to the larger count, against the session's own render + encode (its per-frame averages at the frame rate).
 */
export function viewerCost(runs: readonly Pick<RunResult, 'viewers' | 'serverCpuMeanPct' | 'renderEncodeMs' | 'fanout' | 'windows' | 'sendCpuPct'>[]) {
  const ok = runs.filter((r) => r.serverCpuMeanPct !== null);
  if (ok.length < 2) return null;
  const lo = ok.reduce((a, r) => (r.viewers < a.viewers ? r : a));
  const hi = ok.reduce((a, r) => (r.viewers > a.viewers ? r : a));
  const renderEncodeMs = hi.renderEncodeMs ?? lo.renderEncodeMs;
  if (hi.viewers === lo.viewers || renderEncodeMs === null) return null;
  const fps = hi.windows.at(-1)?.fps ?? 25; // frames the session rendered and encoded a second
  const perViewerPct = (hi.serverCpuMeanPct! - lo.serverCpuMeanPct!) / (hi.viewers - lo.viewers);
  const viewersPct = perViewerPct * hi.viewers;
  const renderEncodePct = (renderEncodeMs * fps) / 10;
  const path = hi.fanout ? (hi.fanout.native > 0 && hi.fanout.werift === 0 ? 'native' : hi.fanout.native === 0 ? 'werift' : 'mixed') : 'unknown';
  const sendingPct = hi.sendCpuPct !== null && lo.sendCpuPct !== null ? ((hi.sendCpuPct - lo.sendCpuPct) / (hi.viewers - lo.viewers)) * hi.viewers : null;
  return {
    fromViewers: lo.viewers,
    toViewers: hi.viewers,
    path,
    perViewerPct: round(perViewerPct, 3),
    viewersPct: round(viewersPct, 2),
    renderEncodeMs,
    fps,
    renderEncodePct: round(renderEncodePct, 1),
    ofRenderEncodePct: round((viewersPct / renderEncodePct) * 100, 1),
    /** The sending alone (server's own thread-CPU measure), same scaling: steadier than process CPU on a shared machine. */
    sendingPct: sendingPct === null ? null : round(sendingPct, 2),
    sendingOfRenderEncodePct: sendingPct === null ? null : round((sendingPct / renderEncodePct) * 100, 1),
  };
}

interface SessionJson {
  latencyMs?: { p50: number; p95: number };
  agent?: { underrunMs?: number };
  renderMsAvg?: number;
  encodeMsAvg?: number;
  fanout?: { native: number; werift: number; sendCpuMs?: number | null };
}

async function fetchSession(url: string, token: string | undefined): Promise<SessionJson | null> {
  try {
    const res = await fetch(url, { headers: authHeader(token), signal: AbortSignal.timeout(5000) });
    return res.ok ? ((await res.json()) as SessionJson) : null;
  } catch {
    return null;
  }
}
