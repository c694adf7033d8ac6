// @napi-rs/webcodecs 1.3.x lists platform packages that the registry does not have (404). npm install then
// leaves them out of package-lock.json and `npm ci` refuses the lock. Lock entries restricted to their
// os/cpu make `npm ci` skip them. Run after any `npm install`: `node tools/fix-lockfile.mjs`.
import { readFileSync, writeFileSync } from 'node:fs';

const LOCK = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(LOCK, 'utf8'));
const parent = lock.packages['node_modules/@napi-rs/webcodecs'];
if (!parent) throw new Error('@napi-rs/webcodecs is not in package-lock.json');
const platform = (name) => {
  const [os, cpu] = name.replace('@napi-rs/webcodecs-', '').split('-');
  return { os: [os], cpu: [cpu === 'arm' ? 'arm' : cpu] };
};
let added = 0;
for (const [name, version] of Object.entries(parent.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (lock.packages[key]) continue;
  lock.packages[key] = { version, optional: true, ...platform(name) };
  added++;
}
writeFileSync(LOCK, JSON.stringify(lock, null, 2) + '\n');
console.log(`fix-lockfile: added ${added} platform stub(s)`);
