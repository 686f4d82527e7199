#!/usr/bin/env node
// Build step (after tsc): packs podrun's module graph into dist/podrun.bundle.js and writes a V8 code
// cache for it, dist/podrun.bundle.cache, so a cold `podrun` neither resolves ~40 modules through
// package exports nor compiles them (nor the generated config.json validator) again.
//
// - The bundle holds the compiled dist files (runtime-core's, @podkit/errdefs', and the runtime-spec half
//   of @podkit/oci-spec with its generated validators) verbatim, each in a CommonJS wrapper with its own
//   __filename/__dirname; requests that were resolved at build time are served from the bundle, anything
//   else (yargs for --help, the native addon, builtins) goes to Node's require.
// - It records the size and mtime of every file it holds; bin/podrun uses the bundle only while they
//   all match, and falls back to dist/cli/podrun.js otherwise (a `tsc` without this step).
// - The code cache is made after a warm-up run of the hot paths (argv parsing, validating a default
//   config), so it includes the functions V8 compiles lazily. V8 checks it against the source and its
//   own version and flags, and ignores it when they differ. Both files are build outputs in dist/, as
//   read-only as the JavaScript itself.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { isBuiltin } = require('node:module');

const pkg = path.resolve(__dirname, '..');
const dist = path.join(pkg, 'dist');
const entry = path.join(dist, 'cli', 'podrun.js');
const out = path.join(dist, 'podrun.bundle.js');
const cacheFile = path.join(dist, 'podrun.bundle.cache');

const ociDir = path.dirname(require.resolve('@podkit/oci-spec', { paths: [dist] }));
// Modules required with computed names (container/oci.ts, oci-spec's validate.ts): listed here.
const extra = [path.join(ociDir, 'runtime-spec.js'), ...['spec', 'process', 'features', 'state'].map((id) => path.join(ociDir, 'generated', `${id}.js`))];

const modules = new Map(); // absolute file -> { deps: {request: absolute file} }
const queue = [entry, ...extra];
while (queue.length) {
  const file = queue.shift();
  if (modules.has(file)) continue;
  const src = fs.readFileSync(file, 'utf8');
  const deps = {};
  for (const m of src.matchAll(/\brequire\((['"])([^'"]+)\1\)/g)) {
    const req = m[2];
    if (isBuiltin(req) || req === 'yargs/yargs') continue;
    let resolved;
    try {
      resolved = require.resolve(req, { paths: [path.dirname(file)] });
    } catch {
      continue; // optional or build-time-only requires stay with Node's require
    }
    // Only the workspace's own packages (errdefs, oci-spec, runtime-core); third-party code stays outside.
    const real = fs.realpathSync(resolved);
    if (!real.endsWith('.js') || !real.startsWith(`${path.resolve(pkg, '..')}${path.sep}`) || real.includes(`${path.sep}node_modules${path.sep}`)) continue;
    // oci-spec's TypeBox schemas are needed only to compile a validator at run time (never, once generated).
    if (/[\\/]oci-spec[\\/]dist[\\/]schema[\\/](runtime|image|mount)\.js$/.test(real)) continue;
    deps[req] = real;
    queue.push(real);
  }
  modules.set(fs.realpathSync(file), { deps, src });
}

const rel = (f) => path.relative(dist, f);
const parts = [];
parts.push('(function (nodeRequire, distDir) {\n"use strict";\n');
parts.push('const path = nodeRequire("node:path");\nconst fs = nodeRequire("node:fs");\nconst Module = nodeRequire("node:module");\n');
parts.push('const defs = Object.create(null);\nconst deps = Object.create(null);\n');
const manifest = [];
for (const [file, { deps, src }] of modules) {
  const st = fs.statSync(file);
  manifest.push([rel(file), st.size, st.mtimeMs]);
  const depMap = Object.fromEntries(Object.entries(deps).map(([k, v]) => [k, rel(v)]));
  parts.push(`deps[${JSON.stringify(rel(file))}] = ${JSON.stringify(depMap)};\n`);
  parts.push(`defs[${JSON.stringify(rel(file))}] = function (exports, require, module, __filename, __dirname) {\n${src.replace(/^#!.*\n/, '')}\n};\n`);
}
parts.push(`const manifest = ${JSON.stringify(manifest)};\n`);
parts.push(`
const loaded = Object.create(null);
const abs = (k) => path.join(distDir, k);
function load(key) {
  const done = loaded[key];
  if (done) return done.exports;
  const filename = abs(key);
  const module = { exports: {}, id: filename, filename, loaded: false };
  loaded[key] = module;
  const real = Module.createRequire(filename);
  const map = deps[key];
  const req = (request) => {
    let k = map[request];
    if (k === undefined && (request.startsWith('.') || request.startsWith('/'))) {
      const r = path.relative(distDir, path.resolve(path.dirname(filename), request));
      k = defs[r] ? r : defs[r + '.js'] ? r + '.js' : undefined;
    }
    return k !== undefined && defs[k] ? load(k) : real(request);
  };
  req.resolve = real.resolve;
  req.cache = real.cache;
  defs[key].call(module.exports, module.exports, req, module, filename, path.dirname(filename));
  module.loaded = true;
  return module.exports;
}
return {
  /** True while every bundled file is the one that was bundled (else the caller uses dist/ directly). */
  fresh() {
    for (const [k, size, mtime] of manifest) {
      let st;
      try {
        st = fs.statSync(abs(k));
      } catch {
        return false;
      }
      if (st.size !== size || st.mtimeMs !== mtime) return false;
    }
    return true;
  },
  load: (k) => load(k),
  main: (argv) => load(${JSON.stringify(rel(fs.realpathSync(entry)))}).main(argv),
};
})`);
const source = parts.join('');
fs.writeFileSync(out, source);

// Warm-up, then the code cache: the lazily compiled functions of the hot path are in it.
const script = new vm.Script(source, { filename: out });
const bundle = script.runInThisContext()(require, dist);
if (!bundle.fresh()) throw new Error('bundle-cli: a bundled file changed while bundling');
const { parseArgs } = bundle.load(path.join('cli', 'args.js'));
parseArgs(['--root', '/run/x', '--log', '/x/log.json', '--log-format', 'json', 'create', '--bundle', '/b', '--pid-file', '/b/p', 'id']);
parseArgs(['exec', '--process', '/p.json', '--detach', 'id']);
const { ociRuntime } = bundle.load(path.join('container', 'oci.js'));
const oci = ociRuntime();
const spec = oci.defaultSpec();
oci.validateSpec(spec);
oci.validateProcess(spec.process);
bundle.load(path.join('container', 'create.js'));
bundle.load(path.join('container', 'start.js'));
bundle.load(path.join('container', 'delete.js'));
bundle.load(path.join('container', 'query.js'));
bundle.load(path.join('container', 'kill.js'));
bundle.load(path.join('container', 'exec.js'));
fs.writeFileSync(cacheFile, script.createCachedData());
process.stdout.write(`bundle-cli: ${modules.size} modules, ${(source.length / 1024).toFixed(0)} kB, cache ${(fs.statSync(cacheFile).size / 1024).toFixed(0)} kB\n`);
