/**
 * Load test: N headless clients stream looping speech to the server and measure what comes back.
 *
 *   npm run loadtest -- --sessions 8 --duration 60 [--audio FILE.wav] [--url URL] [--codec h264|vp8|both|baseline]
 *                       [--stagger MS] [--reference ID] [--config FILE] [--out FILE.json]
 *                       [--decode]   the clients decode every frame, as browsers on this machine would
 *   npm run loadtest -- --soak [--sessions 8] [--duration 3600]     long run, a progress line every 60 s
 *   npm run loadtest -- --sweep 1,2,4,6,8 --duration 60             one run per session count, a summary row each,
 *                                                                   and the largest count that keeps >= 24 fps, < 1% drops
 *   npm run loadtest -- --av-sync [--duration 600] [--viewers 1,10] [--window 60] [--rate 24000] [--token T]
 *                                                                   one voice agent + K WHEP viewers: A/V offset per window
 *                                                                   (mean, p95) and its drift, ingest latency, server CPU
 *                                                                   per viewer count (loadtest/avSyncSoak.ts)
 *   npm run loadtest -- --viewer-cost [--viewers 1,10] [--cycles 5] [--phase 20]
 *                                                                   one session, phases alternating between the two viewer
 *                                                                   counts: what the extra viewers cost (loadtest/viewerCost.ts)
 *   any mode: --pin 1:0                                             server on CPU 1, load generator on CPU 0 (taskset)
 *
 * Without --url it starts the server itself (`node --import tsx server/main.ts --port <free>`; a fresh one
 * for each count of a sweep), samples its CPU% and RSS from /proc, and stops it at the end. Loopback only;
 * stops by itself after --duration seconds (counted from the first connect), or on Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  AvatarClient,
  AvatarServerError,
  summarizeLatency,
  type AvatarClientStats,
  type LatencySummary,
  type VideoCodecChoice,
} from './AvatarClient.ts';
import { loadSpeech48k } from './audioFile.ts';
import { ClientDecoder } from './ClientDecoder.ts';
import { runAvSyncSoak } from './avSyncSoak.ts';
import { runViewerCost } from './viewerCost.ts';
import { ProcSampler, readTreeUsage, SAMPLE_INTERVAL_MS, type ProcSample } from './procSampler.ts';
import { startServerProcess, type ServerProcess } from './serverProcess.ts';
import { StopSignal } from './stopSignal.ts';
import { VIDEO_CODEC_CHOICES } from './clientPeer.ts';
import { fmt, printTable, round } from './table.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_AUDIO = join(REPO_ROOT, 'assets', 'speech', 'jfk.wav');
const PROGRESS_INTERVAL_MS = 5_000;
const SOAK_PROGRESS_INTERVAL_MS = 60_000;
const SOAK_DEFAULT_DURATION_S = 3600;
const AV_SYNC_DEFAULT_DURATION_S = 600;
/** A sweep step passes when every session keeps at least this frame rate... */
const SWEEP_MIN_FPS = 24;
/** ...and fewer than this share of frames is dropped by the server (%). */
const SWEEP_MAX_DROP_PCT = 1;

interface Options {
  sessions: number;
  durationS: number;
  audio: string;
  url: string | null;
  codec: VideoCodecChoice;
  staggerMs: number;
  reference: string | null;
  config: string | null;
  out: string | null;
  soak: boolean;
  /** Session counts to run one after the other; null for a single run of `sessions`. */
  sweep: number[] | null;
  /** A/V sync soak: one voice agent, `viewers` WHEP viewers per run. */
  avSync: boolean;
  viewers: number[];
  windowS: number;
  rate: 16000 | 24000 | 48000;
  token: string | null;
  /** Clients decode every received frame (as browsers do), so the machine carries the viewers' cost too. */
  decode: boolean;
  /** CPUs for the server this load test starts and for the load generator itself (taskset lists). */
  pin: { server: string; clients: string } | null;
  /** --viewer-cost: one session, phases alternating between two viewer counts. */
  viewerCost: boolean;
  cycles: number;
  phaseS: number;
}

function usage(message?: string): never {
  if (message) console.error(`loadtest: ${message}`);
  console.error(
    'usage: npm run loadtest -- --sessions N --duration S [--audio FILE.wav] [--url URL] [--codec h264|vp8|both|baseline]\n' +
      '                          [--stagger MS] [--reference ID] [--config FILE] [--out FILE.json] [--decode]\n' +
      '                          [--soak] (default duration 3600 s, progress every 60 s) [--sweep 1,2,4,6,8]\n' +
      '       npm run loadtest -- --av-sync [--duration 600] [--viewers 1,10] [--window 60] [--rate 16000|24000|48000]\n' +
      '                          [--url URL] [--reference ID] [--token T] [--config FILE] [--out FILE.json]\n' +
      '       npm run loadtest -- --viewer-cost [--viewers 1,10] [--cycles 5] [--phase 20] [--config FILE]\n' +
      '                          one session, viewers alternating between the two counts: what the extra viewers cost\n' +
      '       any mode: --pin SERVER_CPUS:CLIENT_CPUS (e.g. 1:0) runs the server it starts and this load generator on separate cores',
  );
  process.exit(2);
}

/** `--pin 1:0` -> server on CPU 1, this process on CPU 0 (taskset lists: `0-3,6` is fine too). */
function parsePin(v: string): { server: string; clients: string } {
  const m = /^([0-9][0-9,-]*):([0-9][0-9,-]*)$/.exec(v);
  if (!m) usage(`invalid --pin [value:${v}, expected SERVER_CPUS:CLIENT_CPUS such as 1:0]`);
  return { server: m[1]!, clients: m[2]! };
}

/** Pins every thread of this process (the load generator) to `cpus`; threads started later inherit it. */
function pinSelf(cpus: string): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
  } catch (err) {
    usage(`--pin: taskset failed (${(err as Error).message.split('\n')[0]})`);
  }
}

function parseOptions(argv: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        sessions: { type: 'string', default: '1' },
        duration: { type: 'string' },
        audio: { type: 'string' },
        url: { type: 'string' },
        codec: { type: 'string', default: 'h264' },
        stagger: { type: 'string', default: '250' },
        reference: { type: 'string' },
        config: { type: 'string' },
        out: { type: 'string' },
        soak: { type: 'boolean', default: false },
        sweep: { type: 'string' },
        'av-sync': { type: 'boolean', default: false },
        'viewer-cost': { type: 'boolean', default: false },
        cycles: { type: 'string', default: '5' },
        phase: { type: 'string', default: '20' },
        viewers: { type: 'string' },
        window: { type: 'string', default: '60' },
        rate: { type: 'string', default: '24000' },
        token: { type: 'string' },
        decode: { type: 'boolean', default: false },
        pin: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    usage((error as Error).message);
  }
  if (values.help) usage();
  const int = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) usage(`invalid --${name} [value:${v}, min:${min}]`);
    return n;
  };
  const codec = values.codec as VideoCodecChoice;
  if (!(VIDEO_CODEC_CHOICES as readonly string[]).includes(codec)) usage(`invalid --codec [value:${codec}, allowed:${VIDEO_CODEC_CHOICES.join('|')}]`);
  const audio = values.audio ?? DEFAULT_AUDIO;
  if (!existsSync(audio)) {
    usage(values.audio ? `audio file not found [path:${audio}]` : `no default speech at ${DEFAULT_AUDIO}; pass --audio FILE.wav`);
  }
  let sweep: number[] | null = null;
  if (values.sweep !== undefined) {
    sweep = values.sweep.split(',').map((v) => Math.floor(int('sweep', v.trim(), 1)));
    if (sweep.length === 0) usage('--sweep needs session counts, e.g. --sweep 1,2,4,6,8');
  }
  const soak = values.soak ?? false;
  const avSync = values['av-sync'] ?? false;
  const viewerCost = values['viewer-cost'] ?? false;
  const viewers = (values.viewers ?? (viewerCost ? '1,10' : '1')).split(',').map((v) => Math.floor(int('viewers', v.trim(), 1)));
  if (viewerCost && (viewers.length !== 2 || viewers[0]! >= viewers[1]!)) usage('--viewer-cost needs two viewer counts, fewer first, e.g. --viewers 1,10');
  const rate = Number(values.rate);
  if (rate !== 16000 && rate !== 24000 && rate !== 48000) usage(`invalid --rate [value:${values.rate}, allowed:16000|24000|48000]`);
  const defaultDurationS = avSync ? AV_SYNC_DEFAULT_DURATION_S : soak ? SOAK_DEFAULT_DURATION_S : 30;
  return {
    sessions: Math.floor(int('sessions', values.sessions, 1)),
    durationS: int('duration', values.duration ?? String(defaultDurationS), 1),
    audio,
    url: values.url ? values.url.replace(/\/+$/, '') : null,
    codec,
    staggerMs: int('stagger', values.stagger, 0),
    reference: values.reference ?? null,
    config: values.config ?? null,
    out: values.out ?? null,
    soak,
    sweep,
    avSync,
    viewers,
    windowS: int('window', values.window, 5),
    rate,
    token: values.token ?? null,
    decode: values.decode ?? false,
    pin: values.pin === undefined ? null : parsePin(values.pin),
    viewerCost,
    cycles: Math.floor(int('cycles', values.cycles, 1)),
    phaseS: int('phase', values.phase, 5),
  };
}

// ------------------------------------------------------------------ report

interface SessionResult {
  index: number;
  startedAtMs: number;
  error: string | null;
  retryAfterS: number | null;
  stats: AvatarClientStats | null;
  /** With --decode: frames the client decoded, and decoder errors. */
  decoded?: { frames: number; errors: number };
}

function sessionRow(name: string, s: AvatarClientStats | null, latency: LatencySummary | null, error: string | null): string[] {
  if (!s) return [name, ...Array<string>(11).fill('-'), error ?? ''];
  return [
    name,
    fmt(s.fps, 1),
    String(s.frames),
    s.serverDroppedFrames === null ? '-' : String(s.serverDroppedFrames),
    String(s.frameIndexGaps),
    String(s.keyframes),
    fmt(s.kbps),
    fmt(latency?.p50),
    fmt(latency?.p95),
    fmt(latency?.p99),
    fmt(s.firstFrameMs),
    fmt(s.firstFrameAfterIceMs),
    error ?? (s.frames === 0 ? 'no video' : ''),
  ];
}

// ------------------------------------------------------------------ main

/** Server CPU/RSS over one run (samples up to the end of the measured window, before teardown). */
interface ServerSummary {
  pid: number;
  /** Right after the server is ready, before any session (MiB). */
  rssStartMiB: number | null;
  /** The sample closest to the middle of the run (MiB). */
  rssMidMiB: number | null;
  /** The last sample before the sessions are closed (MiB). */
  rssEndMiB: number | null;
  maxRssMiB: number;
  /** 100% = one core. */
  meanCpuPct: number;
  maxCpuPct: number;
  samples: ProcSample[];
}

interface Totals {
  sessions: number;
  connected: number;
  failed: number;
  withVideo: number;
  meanFps: number;
  minFps: number | null;
  frames: number;
  serverDroppedFrames: number | null;
  /** dropped / (received + dropped), %. */
  dropPct: number | null;
  frameIndexGaps: number;
  keyframes: number;
  kbps: number;
  latency: LatencySummary | null;
  maxFirstFrameMs: number | null;
  maxFirstFrameAfterIceMs: number | null;
}

interface RunOutcome {
  requested: number;
  totals: Totals;
  server: ServerSummary | null;
  report: Record<string, unknown>;
  exitCode: number;
}

function dropPctOf(frames: number, dropped: number | null): number | null {
  if (dropped === null) return null;
  const all = frames + dropped;
  return all > 0 ? (dropped / all) * 100 : 0;
}

function summarizeServer(pid: number, rssStartMiB: number | null, samples: ProcSample[], runEndMs: number): ServerSummary | null {
  const window = samples.filter((s) => s.tMs <= runEndMs + SAMPLE_INTERVAL_MS / 2);
  const use = window.length ? window : samples;
  if (use.length === 0) return null;
  const mid = use.reduce((best, s) => (Math.abs(s.tMs - runEndMs / 2) < Math.abs(best.tMs - runEndMs / 2) ? s : best));
  return {
    pid,
    rssStartMiB,
    rssMidMiB: mid.rssMiB,
    rssEndMiB: use.at(-1)!.rssMiB,
    maxRssMiB: Math.max(...use.map((s) => s.rssMiB)),
    meanCpuPct: round(use.reduce((a, s) => a + s.cpuPct, 0) / use.length, 1),
    maxCpuPct: Math.max(...use.map((s) => s.cpuPct)),
    samples,
  };
}

/** One load run: `count` sessions for `opts.durationS` seconds against a fresh server (or --url). */
async function runOnce(opts: Options, count: number, audio: Float32Array, outPath: string, stop: StopSignal): Promise<RunOutcome> {
  const progressMs = opts.soak ? SOAK_PROGRESS_INTERVAL_MS : PROGRESS_INTERVAL_MS;
  let server: ServerProcess | null = null;
  let baseUrl = opts.url;
  if (!baseUrl) {
    const logPath = outPath.replace(/\.json$/, '') + '.server.log';
    const startMs = performance.now();
    server = await startServerProcess(opts.config, logPath, opts.pin?.server ?? null);
    baseUrl = server.url;
    console.log(`loadtest: server pid ${server.child.pid} ${baseUrl} ready in ${Math.round(performance.now() - startMs)} ms (log ${logPath})`);
  }
  if (!/^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(baseUrl)) {
    await server?.stop();
    usage(`--url must be a loopback address [url:${baseUrl}]`);
  }

  const rssStart = server ? await readTreeUsage(server.child.pid!) : null;
  const t0 = performance.now();
  const sampler = server ? new ProcSampler(server.child.pid!, t0) : null;
  sampler?.start();
  const clientCpu0 = process.cpuUsage();

  const clients: AvatarClient[] = [];
  const decoders: (ClientDecoder | null)[] = [];
  const results: SessionResult[] = [];
  const deadline = t0 + opts.durationS * 1000;
  const connects: Promise<void>[] = [];
  let runEndMs = 0;
  try {
    for (let i = 0; i < count && !stop.requested && performance.now() < deadline; i++) {
      const result: SessionResult = { index: i, startedAtMs: Math.round(performance.now() - t0), error: null, retryAfterS: null, stats: null };
      results.push(result);
      const decoder = opts.decode ? new ClientDecoder() : null;
      decoders.push(decoder);
      const client = new AvatarClient({
        baseUrl,
        audio,
        loop: true,
        codec: opts.codec,
        ...(opts.reference ? { referenceId: opts.reference } : {}),
        ...(decoder ? { onFrame: decoder.onFrame } : {}),
      });
      clients.push(client);
      connects.push(
        client.connect().catch((error: unknown) => {
          result.error = error instanceof AvatarServerError ? `HTTP ${error.status}` : (error as Error).message;
          if (error instanceof AvatarServerError) result.retryAfterS = error.retryAfterS;
          console.error(`loadtest: session ${i} failed: ${(error as Error).message}`);
        }),
      );
      if (i < count - 1 && opts.staggerMs > 0) await stop.sleep(Math.min(opts.staggerMs, Math.max(0, deadline - performance.now())));
    }
    await Promise.all(connects);

    let nextProgress = performance.now() + progressMs;
    // Soak progress lines cover the interval since the previous line.
    let prevFrames = clients.map((c) => c.getStats().frames);
    let prevLatencyCount = clients.map((c) => c.latencySamples().length);
    let prevAt = performance.now();
    while (!stop.requested && performance.now() < deadline) {
      await stop.sleep(Math.min(nextProgress, deadline) - performance.now());
      if (performance.now() < nextProgress) continue;
      nextProgress += progressMs;
      const now = performance.now();
      const all = clients.map((c) => c.getStats());
      const live = all.filter((s) => s.state === 'connected').length;
      const frames = all.reduce((a, s) => a + s.frames, 0);
      const cpu = sampler?.samples.at(-1);
      if (!opts.soak) {
        console.log(
          `  t=${fmt((now - t0) / 1000)} s  connected ${live}/${clients.length}  frames ${frames}` +
            (cpu ? `  server cpu ${cpu.cpuPct}% rss ${cpu.rssMiB} MiB` : ''),
        );
        continue;
      }
      const spanS = (now - prevAt) / 1000;
      const fpsNow = all.map((s, i) => (s.frames - prevFrames[i]!) / spanS);
      const meanFps = fpsNow.length ? fpsNow.reduce((a, v) => a + v, 0) / fpsNow.length : 0;
      const recent = summarizeLatency(clients.flatMap((c, i) => c.latencySamples().slice(prevLatencyCount[i]!)));
      const reported = all.filter((s) => s.serverDroppedFrames !== null);
      const dropped = reported.length ? reported.reduce((a, s) => a + s.serverDroppedFrames!, 0) : null;
      const windowSamples = sampler?.samples.filter((x) => x.tMs >= prevAt - t0) ?? [];
      const cpuMean = windowSamples.length ? windowSamples.reduce((a, x) => a + x.cpuPct, 0) / windowSamples.length : null;
      console.log(
        `  t=${fmt((now - t0) / 1000)} s  connected ${live}/${clients.length}  fps ${fmt(meanFps, 1)} (mean/session, last ${fmt(spanS)} s)` +
          `  frames ${frames}  dropped ${dropped ?? '-'} (${fmt(dropPctOf(frames, dropped), 2)}%)  lat p95 ${fmt(recent?.p95)} ms (last ${fmt(spanS)} s)` +
          (cpu ? `  server rss ${cpu.rssMiB} MiB cpu ${fmt(cpuMean, 0)}% (mean, last ${fmt(spanS)} s)` : ''),
      );
      prevFrames = all.map((s) => s.frames);
      prevLatencyCount = clients.map((c) => c.latencySamples().length);
      prevAt = now;
    }
  } finally {
    runEndMs = performance.now() - t0;
    for (const [i, client] of clients.entries()) results[i]!.stats = client.getStats();
    for (const [i, d] of decoders.entries()) if (d) results[i]!.decoded = d.close();
    await Promise.all(clients.map((c) => c.close()));
    sampler?.stop();
    await server?.stop();
  }
  const clientCpu = process.cpuUsage(clientCpu0);
  const elapsedS = (performance.now() - t0) / 1000;

  // Table
  const header = ['session', 'fps', 'frames', 'dropped', 'idxgap', 'keyfr', 'kbps', 'lat p50', 'lat p95', 'lat p99', 'ttff ms', 'ttff-ice', 'note'];
  const rows: string[][] = [header];
  for (const [i, r] of results.entries()) {
    const name = `#${i}${r.stats?.sessionId ? ` ${r.stats.sessionId.slice(0, 8)}` : ''}`;
    rows.push(sessionRow(name, r.error ? null : r.stats, r.stats?.latency ?? null, r.error));
  }
  const ok = results.filter((r) => r.stats && !r.error);
  const pooled = summarizeLatency(clients.flatMap((c) => [...c.latencySamples()]));
  const sum = (f: (s: AvatarClientStats) => number): number => ok.reduce((a, r) => a + f(r.stats!), 0);
  const dropped = ok.some((r) => r.stats!.serverDroppedFrames !== null) ? sum((s) => s.serverDroppedFrames ?? 0) : null;
  const ttffs = ok.map((r) => r.stats!.firstFrameMs).filter((v): v is number => v !== null);
  const ttffIce = ok.map((r) => r.stats!.firstFrameAfterIceMs).filter((v): v is number => v !== null);
  const frames = sum((s) => s.frames);
  const totals: Totals = {
    sessions: results.length,
    connected: ok.length,
    failed: results.length - ok.length,
    withVideo: ok.filter((r) => r.stats!.frames > 0).length,
    meanFps: ok.length ? sum((s) => s.fps) / ok.length : 0,
    minFps: ok.length ? Math.min(...ok.map((r) => r.stats!.fps)) : null,
    frames,
    serverDroppedFrames: dropped,
    dropPct: dropPctOf(frames, dropped),
    frameIndexGaps: sum((s) => s.frameIndexGaps),
    keyframes: sum((s) => s.keyframes),
    kbps: sum((s) => s.kbps),
    latency: pooled,
    maxFirstFrameMs: ttffs.length ? Math.max(...ttffs) : null,
    maxFirstFrameAfterIceMs: ttffIce.length ? Math.max(...ttffIce) : null,
  };
  rows.push([
    `total (${ok.length}/${results.length})`,
    fmt(totals.meanFps, 1),
    String(totals.frames),
    dropped === null ? '-' : `${dropped} (${fmt(totals.dropPct, 2)}%)`,
    String(totals.frameIndexGaps),
    String(totals.keyframes),
    fmt(totals.kbps),
    fmt(pooled?.p50),
    fmt(pooled?.p95),
    fmt(pooled?.p99),
    fmt(totals.maxFirstFrameMs),
    fmt(totals.maxFirstFrameAfterIceMs),
    'fps mean, ttff max',
  ]);
  console.log('');
  printTable(rows);

  const serverSummary = server ? summarizeServer(server.child.pid!, rssStart ? round(rssStart.rssKiB / 1024, 1) : null, sampler?.samples ?? [], runEndMs) : null;
  const clientCpuPct = round(((clientCpu.user + clientCpu.system) / 1e6 / elapsedS) * 100, 1);
  console.log('');
  if (serverSummary) {
    printTable([
      ['server', 'rss start', 'rss mid', 'rss end', 'rss max', 'cpu mean', 'cpu max'],
      [
        `pid ${serverSummary.pid}`,
        `${fmt(serverSummary.rssStartMiB)} MiB`,
        `${fmt(serverSummary.rssMidMiB)} MiB`,
        `${fmt(serverSummary.rssEndMiB)} MiB`,
        `${fmt(serverSummary.maxRssMiB)} MiB`,
        `${fmt(serverSummary.meanCpuPct)}%`,
        `${fmt(serverSummary.maxCpuPct)}%`,
      ],
    ]);
    console.log('(cpu: 100% = one core, sampled every 1 s while sessions ran)');
  } else {
    console.log('server: external (--url), not sampled');
  }
  const decodedFrames = results.reduce((a, r) => a + (r.decoded?.frames ?? 0), 0);
  console.log(
    `clients: cpu ${clientCpuPct}% of one core in this process` +
      (opts.decode ? `, decoding every frame (${decodedFrames} decoded, ${results.reduce((a, r) => a + (r.decoded?.errors ?? 0), 0)} errors)` : ' (frames not decoded; --decode to)'),
  );
  if (serverSummary && ok.length > 0) console.log(`server cpu per session: ${fmt((serverSummary.meanCpuPct ?? 0) / ok.length, 1)}% of one core (mean over the run)`);

  const report = {
    startedAt: new Date(Date.now() - elapsedS * 1000).toISOString(),
    durationS: round(elapsedS, 2),
    options: { ...opts, sessions: count, url: baseUrl },
    totals,
    server: serverSummary,
    client: { cpuPct: clientCpuPct, decode: opts.decode },
    sessions: results,
  };
  const exitCode = ok.length < results.length || totals.withVideo < ok.length ? 1 : 0;
  return { requested: count, totals, server: serverSummary, report, exitCode };
}

/** A sweep step passes when every requested session streamed at >= 24 fps with < 1% frames dropped. */
function sweepPass(run: RunOutcome): boolean {
  const t = run.totals;
  return (
    t.connected === run.requested &&
    t.withVideo === run.requested &&
    t.minFps !== null &&
    t.minFps >= SWEEP_MIN_FPS &&
    t.dropPct !== null &&
    t.dropPct < SWEEP_MAX_DROP_PCT
  );
}

async function runAvSync(opts: Options, outPath: string): Promise<number> {
  if (opts.url && !/^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(opts.url)) usage(`--url must be a loopback address [url:${opts.url}]`);
  const stop = new StopSignal();
  const onSigint = (): void => {
    console.log('\nloadtest: interrupted, closing the session');
    stop.request();
  };
  process.on('SIGINT', onSigint);
  try {
    return await runAvSyncSoak(
      {
        durationS: opts.durationS,
        viewerCounts: opts.viewers,
        windowS: opts.windowS,
        url: opts.url,
        config: opts.config,
        serverCpus: opts.pin?.server ?? null,
        reference: opts.reference,
        token: opts.token,
        sampleRate: opts.rate,
        outPath,
      },
      stop,
    );
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.pin) {
    if (opts.url) usage('--pin pins the server this load test starts; with --url pin your server yourself');
    pinSelf(opts.pin.clients);
    console.log(`loadtest: server on CPU ${opts.pin.server}, load generator on CPU ${opts.pin.clients}`);
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outPath = opts.out ?? join(REPO_ROOT, 'loadtest-output', `${stamp}${opts.avSync ? '.avsync' : opts.viewerCost ? '.viewer-cost' : ''}.json`);
  await mkdir(dirname(outPath), { recursive: true });
  if (opts.avSync) return runAvSync(opts, outPath);
  if (opts.viewerCost) {
    if (opts.url) usage('--viewer-cost starts its own server (it reads its threads from /proc)');
    const stop = new StopSignal();
    process.once('SIGINT', () => stop.request());
    return runViewerCost({ viewerCounts: [opts.viewers[0]!, opts.viewers[1]!], cycles: opts.cycles, phaseS: opts.phaseS, config: opts.config, serverCpus: opts.pin?.server ?? null, outPath }, stop);
  }

  const audio = await loadSpeech48k(opts.audio);
  const counts = opts.sweep ?? [opts.sessions];
  console.log(
    `loadtest: ${opts.sweep ? `sweep ${counts.join(',')} sessions, ${opts.durationS} s each` : `${opts.sessions} session(s), ${opts.durationS} s`}` +
      `${opts.soak ? ' (soak)' : ''}, codec ${opts.codec}, audio ${opts.audio} (${(audio.length / 48000).toFixed(1)} s, looped)`,
  );

  const stop = new StopSignal();
  const onSigint = (): void => {
    console.log('\nloadtest: interrupted, closing sessions');
    stop.request();
  };
  process.on('SIGINT', onSigint);
  try {
    if (!opts.sweep) {
      const run = await runOnce(opts, opts.sessions, audio, outPath, stop);
      await writeFile(outPath, JSON.stringify(run.report, null, 2) + '\n');
      console.log(`report: ${outPath}`);
      return run.exitCode;
    }

    const runs: RunOutcome[] = [];
    for (const count of counts) {
      if (stop.requested) break;
      console.log(`\n=== sweep: ${count} session(s), ${opts.durationS} s`);
      runs.push(await runOnce(opts, count, audio, outPath.replace(/\.json$/, '') + `.n${count}.json`, stop));
    }
    const rows: string[][] = [
      ['sessions', 'ok', 'fps mean', 'fps min', 'frames', 'dropped', 'drop %', 'lat p50', 'lat p95', 'lat p99', 'rss start', 'rss mid', 'rss end', 'cpu mean', 'cpu max', 'pass'],
    ];
    for (const run of runs) {
      const t = run.totals;
      const sv = run.server;
      rows.push([
        String(run.requested),
        `${t.withVideo}/${run.requested}`,
        fmt(t.meanFps, 1),
        fmt(t.minFps, 1),
        String(t.frames),
        t.serverDroppedFrames === null ? '-' : String(t.serverDroppedFrames),
        fmt(t.dropPct, 2),
        fmt(t.latency?.p50),
        fmt(t.latency?.p95),
        fmt(t.latency?.p99),
        fmt(sv?.rssStartMiB),
        fmt(sv?.rssMidMiB),
        fmt(sv?.rssEndMiB),
        sv ? `${fmt(sv.meanCpuPct)}%` : '-',
        sv ? `${fmt(sv.maxCpuPct)}%` : '-',
        sweepPass(run) ? 'yes' : 'no',
      ]);
    }
    console.log(`\nsweep summary (${opts.durationS} s each; latency ms, rss MiB, cpu 100% = one core; pass = every session >= ${SWEEP_MIN_FPS} fps and < ${SWEEP_MAX_DROP_PCT}% dropped)`);
    printTable(rows);
    const passing = runs.filter(sweepPass).map((r) => r.requested);
    const largest = passing.length ? Math.max(...passing) : null;
    const firstFail = runs.find((r) => !sweepPass(r) && largest !== null && r.requested < largest);
    console.log(
      `largest session count that keeps >= ${SWEEP_MIN_FPS} fps and < ${SWEEP_MAX_DROP_PCT}% drops: ${largest ?? 'none of those tried'}` +
        (firstFail ? ` (note: ${firstFail.requested} failed, a noisy machine?)` : ''),
    );
    const report = {
      sweep: counts,
      durationS: opts.durationS,
      criteria: { minFps: SWEEP_MIN_FPS, maxDropPct: SWEEP_MAX_DROP_PCT },
      largestPassing: largest,
      runs: runs.map((r) => ({ sessions: r.requested, pass: sweepPass(r), ...r.report })),
    };
    await writeFile(outPath, JSON.stringify(report, null, 2) + '\n');
    console.log(`report: ${outPath}`);
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`loadtest: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
