/**
 * What WHEP viewers cost the server, measured steadily: one server, one voice agent talking, and phases that
 * alternate between few and many viewers on the same session (`--viewers 1,10`, `--cycles` times). Comparing
 * neighbouring phases of one process cancels what differs between processes and runs (thread placement, JIT,
 * a noisy neighbour); each cycle gives one difference, and the spread of those says how far to trust the mean.
 *
 * Per phase: the server process's CPU (all threads, /proc), its main thread's CPU (where werift and the sending
 * run) and the server's own thread-CPU measure of the sending (`fanout.sendCpuMs`), and the session's render +
 * encode per frame, the yardstick of issue 12's target (10 viewers under 10 % of it).
 */
import { writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { burstSequence, synthesizeSpeech } from './burstSpeech.ts';
import { CLK_TCK, readThreadTicks, readTreeUsage } from './procSampler.ts';
import { startServerProcess, type ServerProcess } from './serverProcess.ts';
import type { StopSignal } from './stopSignal.ts';
import { fmt, printTable, round } from './table.ts';
import { VoiceAgentClient } from './VoiceAgentClient.ts';
import { WhepViewer } from './WhepViewer.ts';

export interface ViewerCostOptions {
  /** [few, many] */
  viewerCounts: [number, number];
  cycles: number;
  phaseS: number;
  config: string | null;
  serverCpus: string | null;
  outPath: string;
}

/** New viewers settle (ICE, DTLS, first keyframe) before a phase is measured, ms. */
const SETTLE_MS = 3000;
const TOP_UP_BELOW_MS = 3000;

interface PhaseRow {
  cycle: number;
  viewers: number;
  processPct: number;
  mainThreadPct: number;
  sendingPct: number | null;
  renderEncodeMs: number | null;
  fps: number;
}

interface SessionJson {
  framesSent?: number;
  renderMsAvg?: number;
  encodeMsAvg?: number;
  fanout?: { native: number; werift: number; sendCpuMs: number | null };
}

const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
const sd = (a: number[]) => (a.length < 2 ? 0 : Math.sqrt(a.reduce((x, y) => x + (y - mean(a)) ** 2, 0) / (a.length - 1)));

/** Differences between each many-viewer phase and the few-viewer phase before it, scaled to `many` viewers. */
export function costSummary(rows: readonly PhaseRow[], few: number, many: number) {
  const pairs: { few: PhaseRow; many: PhaseRow }[] = [];
  for (let i = 1; i < rows.length; i++) if (rows[i]!.viewers === many && rows[i - 1]!.viewers === few) pairs.push({ few: rows[i - 1]!, many: rows[i]! });
  if (pairs.length === 0) return null;
  const scale = many / (many - few);
  const diff = (k: 'processPct' | 'mainThreadPct' | 'sendingPct') => {
    const d = pairs.filter((p) => p.many[k] !== null && p.few[k] !== null).map((p) => (p.many[k]! - p.few[k]!) * scale);
    return d.length ? { mean: round(mean(d), 2), sd: round(sd(d), 2), n: d.length } : null;
  };
  const re = rows.filter((r) => r.viewers === few && r.renderEncodeMs !== null).map((r) => r.renderEncodeMs!);
  const renderEncodeMs = re.length ? round(mean(re), 2) : null;
  const fps = round(mean(rows.map((r) => r.fps)), 1);
  // The session's render + encode as a share of a core: the yardstick.
  const renderEncodePct = renderEncodeMs === null ? null : round((renderEncodeMs * fps) / 10, 2);
  return { viewers: many, process: diff('processPct'), mainThread: diff('mainThreadPct'), sending: diff('sendingPct'), renderEncodeMs, fps, renderEncodePct };
}

async function sessionJson(url: string): Promise<SessionJson> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return (await res.json()) as SessionJson;
}

export async function runViewerCost(opts: ViewerCostOptions, stop: StopSignal): Promise<number> {
  const [few, many] = opts.viewerCounts;
  console.log(`loadtest --viewer-cost: ${few} <-> ${many} viewers on one session, ${opts.cycles} cycles of ${opts.phaseS} s phases`);
  let server: ServerProcess | null = null;
  let agent: VoiceAgentClient | null = null;
  const viewers: WhepViewer[] = [];
  const rows: PhaseRow[] = [];
  let feeding: Promise<void> = Promise.resolve();
  let error: string | null = null;
  try {
    server = await startServerProcess(opts.config, opts.outPath.replace(/\.json$/, '') + '.server.log', opts.serverCpus);
    const pid = server.child.pid!;
    const baseUrl = server.url;
    agent = await VoiceAgentClient.connect({ baseUrl, sampleRate: 24_000 });
    const speaker = agent;
    const sessionUrl = agent.sessionUrl;
    const block = burstSequence(await synthesizeSpeech(24_000), { sampleRate: 24_000, count: 10, gapMs: 700, tailMs: 0 });
    feeding = (async () => {
      while (!stop.requested && speaker.isOpen) {
        if (speaker.bufferedMs < TOP_UP_BELOW_MS) await speaker.sendPcm(block.pcm, { speed: 2 });
        else await stop.sleep(200);
      }
    })();
    const setViewers = async (n: number) => {
      while (viewers.length > n) await viewers.pop()!.close();
      const added: WhepViewer[] = [];
      while (viewers.length < n) {
        const v = new WhepViewer({ baseUrl, sessionId: speaker.session.id, keep: false });
        viewers.push(v);
        added.push(v);
        await v.connect();
      }
      await Promise.all(added.map((v) => v.waitForConnected()));
      await stop.sleep(SETTLE_MS);
    };
    const measure = async (cycle: number, n: number) => {
      const s0 = await sessionJson(sessionUrl);
      const p0 = await readTreeUsage(pid);
      const m0 = await readThreadTicks(pid);
      const t0 = performance.now();
      await stop.sleep(opts.phaseS * 1000);
      const s1 = await sessionJson(sessionUrl);
      const p1 = await readTreeUsage(pid);
      const m1 = await readThreadTicks(pid);
      const s = (performance.now() - t0) / 1000;
      const send0 = s0.fanout?.sendCpuMs;
      const send1 = s1.fanout?.sendCpuMs;
      const row: PhaseRow = {
        cycle,
        viewers: n,
        processPct: round(((p1!.ticks - p0!.ticks) / CLK_TCK / s) * 100, 2),
        mainThreadPct: round(((m1 - m0) / CLK_TCK / s) * 100, 2),
        sendingPct: typeof send0 === 'number' && typeof send1 === 'number' ? round(((send1 - send0) / 1000 / s) * 100, 3) : null,
        renderEncodeMs: s1.renderMsAvg !== undefined && s1.encodeMsAvg !== undefined ? round(s1.renderMsAvg + s1.encodeMsAvg, 2) : null,
        fps: round(((s1.framesSent ?? 0) - (s0.framesSent ?? 0)) / s, 1),
      };
      rows.push(row);
      console.log(
        `  cycle ${cycle} ${String(n).padStart(3)} viewers: ${fmt(row.fps, 1)} fps  process ${fmt(row.processPct, 2)}%  main thread ${fmt(row.mainThreadPct, 2)}%  ` +
          `sending ${fmt(row.sendingPct, 3)}%  render+encode ${fmt(row.renderEncodeMs, 2)} ms a frame  path ${JSON.stringify(s1.fanout ? { native: s1.fanout.native, werift: s1.fanout.werift } : null)}`,
      );
    };
    for (let c = 1; c <= opts.cycles && !stop.requested; c++) {
      await setViewers(few);
      await measure(c, few);
      if (stop.requested) break;
      await setViewers(many);
      await measure(c, many);
    }
  } catch (e) {
    error = (e as Error).message;
    console.error(`loadtest --viewer-cost: ${error}`);
  } finally {
    await Promise.all(viewers.map((v) => v.close()));
    await agent?.close({ endSession: true });
    await feeding.catch(() => undefined);
    await server?.stop();
  }

  const summary = costSummary(rows, few, many);
  if (summary) {
    const re = summary.renderEncodeMs;
    const rePct = summary.renderEncodePct;
    const line = (name: string, d: { mean: number; sd: number; n: number } | null) => [
      name,
      d ? `${fmt(d.mean, 2)}%` : '',
      d ? `±${fmt(d.sd, 2)}` : '',
      d && rePct ? `${fmt((d.mean / rePct) * 100, 1)}%` : '',
    ];
    console.log(`\n${many} viewers cost (difference to ${few}, scaled to ${many}; mean ± sd over ${summary.process?.n ?? 0} cycles; 100% = one core)`);
    printTable([
      ['measure', 'cost', 'sd', `of render+encode (${fmt(re, 2)} ms x ${fmt(summary.fps, 1)} fps = ${fmt(rePct, 1)}%)`],
      line('server process', summary.process),
      line('main thread', summary.mainThread),
      line('sending (server thread CPU)', summary.sending),
    ]);
  }
  await writeFile(opts.outPath, JSON.stringify({ startedAt: new Date().toISOString(), options: opts, rows, summary, error }, null, 2) + '\n');
  console.log(`report: ${opts.outPath}`);
  return error === null && summary !== null ? 0 : 1;
}
