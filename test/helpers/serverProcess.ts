/** The real server (`server/main.ts`) in a child process, for end-to-end tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SERVER_START_TIMEOUT_MS = 60_000;

function freePort(): Promise<number> {
  return new Promise((done, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => done(port));
    });
  });
}

/** Starts `server/main.ts` on a free port (with `configPath` if given); resolves with its URL once it prints "listening on". */
export async function startServerProcess(configPath?: string): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', '--port', String(port), ...(configPath ? ['--config', configPath] : [])], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const log = (): string => output.slice(-4000);
  const url = await new Promise<string>((done, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not listening after ${SERVER_START_TIMEOUT_MS} ms:\n${log()}`)), SERVER_START_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-100_000);
      const m = /listening on (https?:\/\/[^\s"',]+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        done(m[1]!.replace(/\/+$/, ''));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server exited during start [code:${code}, signal:${signal}]:\n${log()}`));
    });
  });
  return { child, url, log };
}

export function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    child.kill('SIGTERM');
  });
}
