/** Builds the browser pages' bundles exactly as `npm run build:client` does, so e2e tests never serve stale ones. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The pages' entry points, bundled to dist/client/{main,view,presenter}.js. */
export const CLIENT_ENTRY_POINTS = ['client/main.ts', 'client/view.ts', 'client/presenter.ts'];

export async function buildClientBundles(): Promise<void> {
  await build({
    entryPoints: CLIENT_ENTRY_POINTS.map((entry) => join(ROOT, entry)),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    outdir: join(ROOT, 'dist/client'),
    sourcemap: true,
    logLevel: 'warning',
  });
}
