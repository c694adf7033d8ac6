#!/usr/bin/env node
/**
 * Builds the native RTP fan-out (native/*.c -> dist/native/srtp_fanout.node) with the system C compiler, Node-API
 * headers from npm and OpenSSL's libcrypto from Debian (libssl-dev). Runs after `npm install` / `npm ci` and at
 * `npm start`; rebuilds only when a source changed. Never fails the install: without a compiler or libssl-dev the
 * server sends to viewers through werift's JavaScript path and says so in its log.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sources = ['srtp_fanout.c', 'srtp_protect.c', 'srtp_protect.h'].map((f) => join(root, 'native', f));
const outDir = join(root, 'dist', 'native');
const out = join(outDir, 'srtp_fanout.node');
const stamp = `${out}.sha256`;

function skip(why) {
  console.warn(`build-native: native fan-out not built (${why}); viewers will use werift's JavaScript send path.`);
  process.exit(0);
}

const hash = createHash('sha256');
for (const f of sources) hash.update(readFileSync(f));
const digest = hash.digest('hex');
if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) process.exit(0);
if (!existsSync('/usr/include/openssl/evp.h')) skip('OpenSSL headers missing: apt-get install libssl-dev');
let napiInclude;
try {
  napiInclude = join(dirname(createRequire(import.meta.url).resolve('node-api-headers/package.json')), 'include');
} catch {
  skip('node-api-headers is not installed');
}
const cc = process.env.CC ?? 'cc';
mkdirSync(outDir, { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
try {
  execFileSync(cc, ['-O2', '-fPIC', '-shared', '-Wall', '-Werror', '-DNODE_GYP_MODULE_NAME=srtp_fanout', '-I', napiInclude, ...sources.filter((f) => f.endsWith('.c')), '-lcrypto', '-o', tmp], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
} catch (err) {
  skip(`${cc} failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
}
renameSync(tmp, out); // atomic: a running server never loads a half-written file
writeFileSync(stamp, digest);
console.log(`build-native: built ${out.slice(root.length + 1)}`);
