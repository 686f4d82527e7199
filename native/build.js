#!/usr/bin/env node
// Builds native/ with cmake-js and copies the outputs where @podkit/runtime-core loads them from
// (packages/runtime-core/native-bin). Node's headers come from npm's `nodedir` (set on this machine to
// /usr, where Debian's Node keeps include/node), else from the running Node's prefix; cmake-js never
// downloads anything.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
const root = path.dirname(here);

// One build at a time: several nx processes (or developers' shells) may run this at once, and two
// cmake/ninja runs in one build folder corrupt each other. flock(1) serialises them.
if (process.env.PODKIT_NATIVE_BUILD_LOCKED !== '1') {
  fs.mkdirSync(path.join(here, 'build'), { recursive: true });
  const r = require('node:child_process').spawnSync('flock', [path.join(here, 'build', '.lock'), process.execPath, __filename], {
    stdio: 'inherit',
    env: { ...process.env, PODKIT_NATIVE_BUILD_LOCKED: '1' },
  });
  process.exit(r.status === null ? 1 : r.status);
}

function nodeDir() {
  const candidates = [process.env.npm_config_nodedir, path.resolve(process.execPath, '..', '..')];
  try {
    candidates.push(execFileSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8' }).trim());
  } catch {
    /* npm not reachable: fall back to the other candidates */
  }
  for (const dir of candidates) {
    if (dir && dir !== 'undefined' && fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h'))) return dir;
  }
  throw new Error(
    `native build: no Node headers found (looked for include/node/node_api.h under ${candidates.filter(Boolean).join(', ')}); ` +
      'install the nodejs headers or set npm_config_nodedir',
  );
}

const nodedir = nodeDir();
const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
const debug = process.env.PODKIT_NATIVE_DEBUG === '1';
execFileSync(
  process.execPath,
  [cmakeJs, 'build', '-d', here, '-O', path.join(here, 'build'), '-B', debug ? 'Debug' : 'Release', '-p', '2', '-l', 'warn'],
  { stdio: 'inherit', env: { ...process.env, npm_config_nodedir: nodedir } },
);

const outDir = path.join(root, 'packages', 'runtime-core', 'native-bin');
fs.mkdirSync(outDir, { recursive: true });
// cmake-js puts the addon in build/<Config>; the helpers land in build/ with single-config generators.
const buildDirs = [path.join(here, 'build', debug ? 'Debug' : 'Release'), path.join(here, 'build')].filter((d) => fs.existsSync(d));
let copied = 0;
for (const [dir, name] of buildDirs.flatMap((d) => fs.readdirSync(d).map((n) => [d, n]))) {
  if (name === 'podkit_native.node' || name.startsWith('podkit-')) {
    const src = path.join(dir, name);
    if (!fs.statSync(src).isFile()) continue;
    const dst = path.join(outDir, name);
    // Write to a temp name and rename, so a running process keeps the old file intact.
    fs.copyFileSync(src, `${dst}.tmp`);
    fs.chmodSync(`${dst}.tmp`, 0o755);
    fs.renameSync(`${dst}.tmp`, dst);
    copied++;
  }
}
if (!fs.existsSync(path.join(outDir, 'podkit_native.node'))) throw new Error(`native build: podkit_native.node not produced in ${buildDirs.join(', ')}`);
process.stdout.write(`native: ${copied} artefacts in ${path.relative(root, outDir)}\n`);
