/** CPU and memory of a process and its descendants from /proc (Linux), sampled once a second. */
import { readdir, readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { round } from './table.ts';

export const SAMPLE_INTERVAL_MS = 1_000;
export const CLK_TCK = 100; // Linux USER_HZ; /proc/<pid>/stat times are in these ticks.

/** utime + stime (ticks) from a /proc .../stat line: fields 14 and 15, counted over the whole line. */
function statTicks(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** CPU ticks of one thread (`tid`, the main thread when it equals `pid`). */
export async function readThreadTicks(pid: number, tid = pid): Promise<number> {
  return statTicks(await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
}

export interface ProcSample {
  /** ms since the test started */
  tMs: number;
  /** CPU over the last interval, 100 = one core. */
  cpuPct: number;
  rssMiB: number;
}

/** The pid and all its descendants (the server may fork helpers). */
async function processTree(root: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = parents.get(ppid) ?? [];
    list.push(Number(entry));
    parents.set(ppid, list);
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(parents.get(out[i]!) ?? []));
  return out;
}

/** utime + stime (ticks) and VmRSS (KiB) summed over the process tree. */
export async function readTreeUsage(root: number): Promise<{ ticks: number; rssKiB: number } | null> {
  let ticks = 0;
  let rssKiB = 0;
  let found = false;
  for (const pid of await processTree(root)) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => null);
    if (!stat || !status) continue;
    found = true;
    ticks += statTicks(stat);
    const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    if (rss) rssKiB += Number(rss[1]);
  }
  return found ? { ticks, rssKiB } : null;
}

export class ProcSampler {
  readonly samples: ProcSample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private last: { ticks: number; atMs: number } | null = null;

  constructor(
    private readonly pid: number,
    private readonly t0: number,
  ) {}

  start(): void {
    const tick = async (): Promise<void> => {
      const usage = await readTreeUsage(this.pid);
      const now = performance.now();
      if (usage) {
        if (this.last) {
          const cpuPct = ((usage.ticks - this.last.ticks) / CLK_TCK / ((now - this.last.atMs) / 1000)) * 100;
          this.samples.push({ tMs: Math.round(now - this.t0), cpuPct: round(cpuPct, 1), rssMiB: round(usage.rssKiB / 1024, 1) });
        }
        this.last = { ticks: usage.ticks, atMs: now };
      }
      if (this.timer) this.timer = setTimeout(() => void tick(), SAMPLE_INTERVAL_MS);
    };
    this.timer = setTimeout(() => void tick(), 0);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
