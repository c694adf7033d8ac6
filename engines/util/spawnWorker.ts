import { Worker, type WorkerOptions } from 'node:worker_threads';

const BOOT = new URL('./tsWorkerBoot.mjs', import.meta.url);

/**
 * Start a worker thread from a TypeScript (or JS) module URL.
 * `data` arrives in the worker as `workerData.data`.
 */
export function spawnWorker(entry: URL, data?: unknown, options: Omit<WorkerOptions, 'workerData'> = {}): Worker {
  if (entry.pathname.endsWith('.ts')) {
    return new Worker(BOOT, { ...options, workerData: { entry: entry.href, data } });
  }
  return new Worker(entry, { ...options, workerData: { data } });
}
