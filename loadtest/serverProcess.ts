/** The server in a child process for the load test: started on a free port, its output to a log file, stopped with SIGTERM. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SERVER_START_TIMEOUT_MS = 60_000;

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolvePort(port));
    });
  });
}

/** Starts the server in its own process (node + tsx loader, so the pid is the server itself). */
export async function startServerProcess(config: string | null, logPath: string, cpus: string | null = null): Promise<ServerProcess> {
  const port = await freePort();
  const args = ['--import', 'tsx', 'server/main.ts', '--port', String(port)];
  if (config) args.push('--config', config);
  // taskset execs node in place, so the pid is still the server's.
  const child = cpus
    ? spawn('taskset', ['-c', cpus, process.execPath, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logPath);
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });

  const url = await new Promise<string>((resolveUrl, reject) => {
    let seen = '';
    const timer = setTimeout(() => fail(new Error(`server did not print "listening on" within ${SERVER_START_TIMEOUT_MS} ms [log:${logPath}]`)), SERVER_START_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      seen = (seen + chunk.toString('utf8')).slice(-4096);
      const m = /listening on (https?:\/\/[^\s"',]+)/.exec(seen);
      if (m) {
        cleanup();
        resolveUrl(m[1]!.replace(/\/+$/, ''));
      }
    };
    const onExit = (code: number | null, signal: string | null): void =>
      fail(new Error(`server exited during start [code:${code}, signal:${signal}, log:${logPath}]`));
    function cleanup(): void {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.stderr!.off('data', onData);
      child.off('exit', onExit);
    }
    function fail(error: Error): void {
      cleanup();
      child.kill('SIGKILL');
      reject(error);
    }
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopping ??= new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        log.end();
        return done();
      }
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(killTimer);
        log.end();
        done();
      });
      child.kill('SIGTERM');
    }));
  return { url, child, stop };
}
