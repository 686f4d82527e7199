#!/usr/bin/env node
// Build step (after tsc): packs podrun's module graph into dist/podrun.bundle.js and writes a V8 code
// cache for it, dist/podrun.bundle.cache, so a cold `podrun` neither resolves ~40 modules through
// package exports nor compiles them (nor the generated config.json validator) again.
//
// - The bundle holds the compiled dist files (runtime-core's, @podkit/errdefs', the runtime-spec half
//   of @podkit/oci-spec with its generated validators, and ajv's tiny runtime helpers they require)
//   verbatim, each in a CommonJS wrapper with its own __filename/__dirname; requests that were resolved
//   at build time are served from the bundle, anything else (yargs for --help, the native addon,
//   builtins) goes to Node's require, made for a module only when it first needs it.
// - The bundle is pure ASCII (other characters are written as \u escapes, which mean the same in
//   JavaScript source), so bin/podrun reads it as latin1 into a one-byte string: no UTF-8 decoding.
// - TypeScript's module helpers (`__importStar`, looked up as `this.__importStar`) are shared by all
//   bundled modules and remember the namespace object of each module: `import * as fs` in fifteen
//   files copies fs's hundred exports once, not fifteen times.
// - Freshness: it records the size and mtime of one file per output group (tsc's output of each
//   package, the generated validators, ajv's files); tsc (not incremental here) and the validator
//   generator rewrite every file of their group, so one file shows a rebuild. bin/podrun uses the
//   bundle while they all match; when one differs (a rebuild, or an nx cache restore, which writes the
//   same files anew) it compares every bundled file's text with the bundle's copy, and falls back to
//   dist/cli/podrun.js when any differs. When they are all the same it writes dist/podrun.bundle.stamp
//   (best effort, atomically): this build's id and the files' new sizes and mtimes, so that later runs
//   after an nx cache restore take the quick path again.
// - The code cache is made after a warm-up of the hot paths (argv parsing, validating a default
//   config, `create` up to the point where it would make something, the state store on a temporary
//   root), so it holds the functions V8 compiles lazily. V8 checks it against the source and its own
//   version and flags, and ignores it when they differ. Both files are build outputs in dist/, as
//   read-only as the JavaScript itself.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');
const { isBuiltin } = require('node:module');

const pkg = path.resolve(__dirname, '..');
const dist = path.join(pkg, 'dist');
const entry = path.join(dist, 'cli', 'podrun.js');
const out = path.join(dist, 'podrun.bundle.js');
const cacheFile = path.join(dist, 'podrun.bundle.cache');
const workspace = `${path.resolve(pkg, '..')}${path.sep}`;

const ociDir = path.dirname(require.resolve('@podkit/oci-spec', { paths: [dist] }));
// Modules required with computed names (container/oci.ts, oci-spec's validate.ts): listed here.
const extra = [path.join(ociDir, 'runtime-spec.js'), ...['spec', 'process', 'features', 'state'].map((id) => path.join(ociDir, 'generated', `${id}.js`))];

/** Third-party files that may be bundled: ajv's runtime helpers, leaf modules the validators require. */
const isAjvRuntime = (real) => /[\\/]node_modules[\\/]ajv[\\/]dist[\\/]runtime[\\/][\w-]+\.js$/.test(real);

const modules = new Map(); // real path -> { deps: {request: real path}, src }
const queue = [entry, ...extra];
while (queue.length) {
  const file = fs.realpathSync(queue.shift());
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
    const real = fs.realpathSync(resolved);
    if (!real.endsWith('.js') || !real.startsWith(workspace)) continue;
    // The workspace's own packages (errdefs, oci-spec, runtime-core); of third-party code only ajv's runtime helpers.
    if (real.includes(`${path.sep}node_modules${path.sep}`) && !isAjvRuntime(real)) continue;
    // oci-spec's TypeBox schemas are needed only to compile a validator at run time (never, once generated).
    if (/[\\/]oci-spec[\\/]dist[\\/]schema[\\/](runtime|image|mount)\.js$/.test(real)) continue;
    deps[req] = real;
    queue.push(real);
  }
  modules.set(file, { deps, src });
}

/** The output group of a file: files that one build step always writes together. */
function groupOf(file) {
  const nm = file.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  if (nm >= 0) return path.dirname(file);
  const rel = path.relative(workspace, file).split(path.sep);
  // <package>/dist/generated/... (the validator generator) or <package>/dist/... (tsc)
  return rel.slice(0, rel[2] === 'generated' ? 3 : 2).join('/');
}

/** JavaScript source with every non-ASCII UTF-16 unit written as a \u escape (same meaning, one-byte string). */
const ascii = (s) => s.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const stripShebang = (s) => s.replace(/^#!.*\n/, '');

const rel = (f) => path.relative(dist, f);
const parts = [];
parts.push('(function (nodeRequire, distDir) {\n"use strict";\n');
parts.push('const path = nodeRequire("node:path");\nconst fs = nodeRequire("node:fs");\nconst Module = nodeRequire("node:module");\n');
parts.push('const defs = Object.create(null);\nconst deps = Object.create(null);\n');
const checks = [];
const seenGroups = new Set();
for (const [file, { deps, src }] of modules) {
  const group = groupOf(file);
  if (!seenGroups.has(group)) {
    seenGroups.add(group);
    const st = fs.statSync(file);
    checks.push([rel(file), st.size, st.mtimeMs]);
  }
  const depMap = Object.fromEntries(Object.entries(deps).map(([k, v]) => [k, rel(v)]));
  parts.push(`deps[${JSON.stringify(rel(file))}] = ${JSON.stringify(depMap)};\n`);
  // The text between the wrapper's first line and its last is the file's, byte for byte (but escaped).
  parts.push(`defs[${JSON.stringify(rel(file))}] = function (exports, require, module, __filename, __dirname) {\n${stripShebang(src)}\n};\n`);
}
parts.push(`const checks = ${JSON.stringify(checks)};\n`);
// This build of the bundle, for podrun.bundle.stamp (see fresh()).
parts.push(`const BUILD = ${JSON.stringify(`${Date.now()}-${process.pid}`)};\n`);
parts.push(`
const ascii = ${ascii.toString()};
const stripShebang = ${stripShebang.toString()};
// TypeScript's helpers look for a shared copy on \`this\` first (as tslib's would be): the bundled
// modules run with this object as \`this\` (they never use \`this\` otherwise), and the namespace
// object of a CommonJS module (a builtin) is made once.
const namespaces = new WeakMap();
const helpers = {
  __importStar(mod) {
    if (mod && mod.__esModule) return mod;
    if (mod === null || (typeof mod !== "object" && typeof mod !== "function")) return { default: mod };
    let ns = namespaces.get(mod);
    if (ns) return ns;
    ns = {};
    for (const k of Object.getOwnPropertyNames(mod)) {
      if (k !== "default") Object.defineProperty(ns, k, { enumerable: true, get: () => mod[k] });
    }
    Object.defineProperty(ns, "default", { enumerable: true, value: mod });
    namespaces.set(mod, ns);
    return ns;
  },
};
const loaded = Object.create(null);
const abs = (k) => path.join(distDir, k);
function load(key) {
  const done = loaded[key];
  if (done) return done.exports;
  const filename = abs(key);
  const module = { exports: {}, id: filename, filename, loaded: false };
  loaded[key] = module;
  let real; // Node's require for this module, made on first use (most bundled modules never need it)
  const nodeReq = () => (real ??= Module.createRequire(filename));
  const map = deps[key];
  const req = (request) => {
    let k = map[request];
    if (k === undefined && (request.startsWith(".") || request.startsWith("/"))) {
      const r = path.relative(distDir, path.resolve(path.dirname(filename), request));
      k = defs[r] ? r : defs[r + ".js"] ? r + ".js" : undefined;
    }
    if (k !== undefined && defs[k]) return load(k);
    // Builtins resolve the same from anywhere: no require of this module's own for them.
    return Module.isBuiltin(request) ? nodeRequire(request) : nodeReq()(request);
  };
  req.resolve = (request, options) => nodeReq().resolve(request, options);
  req.cache = nodeRequire.cache;
  defs[key].call(helpers, module.exports, req, module, filename, path.dirname(filename));
  module.loaded = true;
  return module.exports;
}
/** Whether each [file, size, mtime] still holds. */
function statsMatch(list) {
  for (const [k, size, mtime] of list) {
    const st = fs.statSync(abs(k), { throwIfNoEntry: false });
    if (!st || st.size !== size || st.mtimeMs !== mtime) return false;
  }
  return true;
}
/** Whether every bundled file still has the text the bundle holds. */
function sameTexts() {
  for (const k of Object.keys(defs)) {
    let text;
    try {
      text = fs.readFileSync(abs(k), "utf8");
    } catch {
      return false;
    }
    const fn = defs[k].toString();
    if (ascii(stripShebang(text)) !== fn.slice(fn.indexOf("\\n") + 1, fn.lastIndexOf("\\n"))) return false;
  }
  return true;
}
return {
  /** True while the bundled files are the ones that were bundled (else the caller uses dist/ directly). */
  fresh() {
    if (statsMatch(checks)) return true;
    // Files written again since bundling: a stamp may say that these very files were compared already.
    const stampFile = path.join(distDir, "podrun.bundle.stamp");
    try {
      const stamp = JSON.parse(fs.readFileSync(stampFile, "utf8"));
      if (stamp.build === BUILD && statsMatch(stamp.checks)) return true;
    } catch {
      /* no stamp, or another build's */
    }
    if (!sameTexts()) return false;
    // Same texts under new mtimes (an nx cache restore): remember them for the next runs, best effort
    // (a read-only dist just compares again). Written atomically; it can only vouch for this build.
    try {
      const now = checks.map(([k]) => {
        const st = fs.statSync(abs(k));
        return [k, st.size, st.mtimeMs];
      });
      const tmp = stampFile + "." + process.pid + ".tmp";
      fs.writeFileSync(tmp, JSON.stringify({ build: BUILD, checks: now }));
      fs.renameSync(tmp, stampFile);
    } catch {
      /* not writable */
    }
    return true;
  },
  load: (k) => load(k),
  main: (argv) => load(${JSON.stringify(rel(fs.realpathSync(entry)))}).main(argv),
};
})`);
const source = ascii(parts.join(''));
fs.writeFileSync(out, source);
fs.rmSync(path.join(dist, 'podrun.bundle.stamp'), { force: true }); // a previous build's

// Warm-up, then the code cache: the lazily compiled functions of the hot paths are in it. Nothing
// outside a temporary folder is made: `create` stops at the missing rootfs, before it reserves the id.
const script = new vm.Script(source, { filename: out });
const bundle = script.runInThisContext()(require, dist);
if (!bundle.fresh()) throw new Error('bundle-cli: a bundled file changed while bundling');
const { parseArgs } = bundle.load(path.join('cli', 'args.js'));
parseArgs(['--root', '/run/x', '--log', '/x/log.json', '--log-format', 'json', 'create', '--bundle', '/b', '--pid-file', '/b/p', 'id']);
parseArgs(['--root', '/run/x', 'run', '--bundle', '/b', 'id']);
parseArgs(['exec', '--process', '/p.json', '--detach', 'id']);
const { ociRuntime } = bundle.load(path.join('container', 'oci.js'));
const oci = ociRuntime();
const spec = oci.defaultSpec();
oci.validateSpec(spec);
oci.validateProcess(spec.process);
for (const m of ['create', 'start', 'delete', 'query', 'kill', 'exec']) bundle.load(path.join('container', `${m}.js`));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-bundle-cli-'));
const settle = (p) => Promise.resolve(p).then(
  () => undefined,
  () => undefined,
);
async function warmUp() {
  const warmBundle = path.join(tmp, 'bundle');
  fs.mkdirSync(warmBundle);
  fs.writeFileSync(path.join(warmBundle, 'config.json'), JSON.stringify({ ...spec, process: { ...spec.process, terminal: false }, linux: { ...spec.linux, cgroupsPath: 'podkit-bundle-cli-warm-up' } }));
  const { StateStore, rfc3339Nano } = bundle.load(path.join('container', 'store.js'));
  const store = new StateStore(path.join(tmp, 'state'));
  const { create } = bundle.load(path.join('container', 'create.js'));
  const { start } = bundle.load(path.join('container', 'start.js'));
  const { deleteContainer } = bundle.load(path.join('container', 'delete.js'));
  const { state } = bundle.load(path.join('container', 'query.js'));
  // Fails with "rootfs does not exist" after validating, planning and choosing cgroups: create decides
  // everything (and rejects a bad config) before it makes anything. A host without cgroups (a build
  // container) stops it earlier: the cache then covers less, which is only slower.
  const failed = await create(store, 'warm', { bundle: warmBundle }).then(
    () => undefined,
    (err) => err,
  );
  if (!failed) throw new Error('bundle-cli: the warm-up create succeeded, it must stop at the missing rootfs');
  if (!/rootfs .* does not exist/.test(String(failed.message))) process.stderr.write(`bundle-cli: warning: the warm-up create stopped early (${failed.message})\n`);
  await settle(start(store, 'nope'));
  await settle(deleteContainer(store, 'nope', { force: true }));
  await settle(Promise.resolve().then(() => state(store, 'nope')));
  // The store's own paths, on the temporary root.
  store.reserve('warm');
  // This process with a start time it cannot have: status() reads its stat and calls it stopped.
  const rec = { version: 1, id: 'warm', bundle: warmBundle, rootfs: '', pid: 0, startTime: 'x', pidfdInode: '0', created: rfc3339Nano(), cgroupPaths: {}, namespaces: [], ownPidNamespace: true, process: spec.process };
  store.save(rec, false);
  store.save({ ...rec, pid: process.pid });
  if (store.status(store.load('warm')) !== 'stopped') throw new Error('bundle-cli: warm-up record not read back as stopped');
  store.remove('warm');
}
warmUp()
  .finally(() => fs.rmSync(tmp, { recursive: true, force: true }))
  .then(() => {
    fs.writeFileSync(cacheFile, script.createCachedData());
    process.stdout.write(`bundle-cli: ${modules.size} modules, ${(source.length / 1024).toFixed(0)} kB, cache ${(fs.statSync(cacheFile).size / 1024).toFixed(0)} kB\n`);
  })
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
