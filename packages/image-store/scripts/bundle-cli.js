#!/usr/bin/env node
// Build step (after tsc): packs podimg's module graph into dist/podimg.bundle.js and writes a V8 code
// cache for it, dist/podimg.bundle.cache, so a cold `podimg` neither resolves ~140 modules through
// node_modules and package exports nor compiles them again. Adapted from runtime-core's
// scripts/bundle-cli.js (podrun's), which explains the design at length; the differences:
//
// - The bundle holds image-store's compiled dist files, @podkit/errdefs', @podkit/oci-spec's (with the
//   generated image-spec validators, which validate.js requires with a computed name, and ajv's runtime
//   helpers they need), @podkit/runtime-core's sys files, and yargs with its dependencies (plain
//   CommonJS; yargs finds its locales and package.json through __dirname and require.main, which the
//   bundle provides), and the ~40 files of undici that src/http/undici.ts loads (its Agent, redirect
//   interceptor and request, with what they require, lazily too: llhttp's wasm; undici uses neither
//   __dirname nor computed requires). Each file is verbatim, in a CommonJS wrapper with its own
//   __filename/__dirname; requests resolved at build time are served from the bundle, anything else
//   (undici's index, fzstd, the native addon, JSON files, builtins) goes to Node's require, made for a
//   module when it first needs it.
// - undici: bundled, its modules load in ~40 ms instead of ~52 (measured); they add 560 kB of source
//   that is read (not parsed: the code cache has them) on every run, which costs `ls` and `--help`
//   nothing measurable. Its index (http/undici.ts's fallback) would add 700 kB more: left out.
// - The bundle is pure ASCII (other characters are written as \u escapes, which mean the same in
//   JavaScript source, strings, templates, regular expressions and comments; only a tagged template's
//   raw text would differ, and the bundled files have no non-ASCII character in one), so bin/podimg
//   reads it as latin1 into a one-byte string: no UTF-8 decoding.
// - Freshness (as podrun's): it records the size and mtime of one file per output group (tsc's output
//   of each package, the generated validators, each node_modules folder); bin/podimg uses the bundle
//   while they all match; when one differs it compares every bundled file's text with the bundle's copy
//   and falls back to dist/cli/podimg.js when any differs. When all are the same it writes
//   dist/podimg.bundle.stamp (best effort, atomically) so later runs take the quick path again.
// - The code cache is made after a warm-up that touches neither the network nor /var: argv parsing of
//   `pull` (stopped before its handler), `--help` texts, `ls` (json and table) on a temporary store,
//   validating a sample manifest, index and config, loading undici's parts and making an Agent.
// - V8 takes a code cache only under the V8 flags it was made with: this script runs itself again
//   under the flags of bin/podimg's shebang line (without them, bin/podimg's V8 rejects the cache).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');
const { isBuiltin } = require('node:module');

const pkg = path.resolve(__dirname, '..');

// V8 accepts a code cache only under the flags it was made with, and bin/podimg runs node with V8
// flags on its shebang line (a cache made without them is rejected: no gain at all). Run this script
// under the same flags, read from bin/podimg itself so that the two cannot drift apart.
const shebang = fs.readFileSync(path.join(pkg, 'bin', 'podimg'), 'utf8').split('\n', 1)[0];
const v8Flags = shebang.split(/\s+/).filter((a) => a.startsWith('--'));
if (v8Flags.join(' ') !== process.execArgv.join(' ')) {
  const r = require('node:child_process').spawnSync(process.execPath, [...v8Flags, __filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const dist = path.join(pkg, 'dist');
const entry = path.join(dist, 'cli', 'podimg.js');
const out = path.join(dist, 'podimg.bundle.js');
const cacheFile = path.join(dist, 'podimg.bundle.cache');
const stampName = 'podimg.bundle.stamp';
const workspace = `${path.resolve(pkg, '..', '..')}${path.sep}`;

const ociDir = path.dirname(require.resolve('@podkit/oci-spec', { paths: [dist] }));
// Modules required with computed names (oci-spec's validate.ts: `./generated/${id}.js`): the image-spec
// validators, the only ones image-store uses.
const extra = ['descriptor', 'platform', 'manifest', 'index', 'config', 'layout', 'mount'].map((id) => path.join(ociDir, 'generated', `${id}.js`));

/** Third-party packages whose files may be bundled (CommonJS, no native parts, no computed requires of their own files). */
const THIRD_PARTY = new Set(['undici', 'yargs', 'yargs-parser', 'y18n', 'cliui', 'string-width', 'strip-ansi', 'ansi-regex', 'is-fullwidth-code-point', 'emoji-regex', 'wrap-ansi', 'ansi-styles', 'escalade', 'get-caller-file', 'require-directory']);
/** The package a node_modules file belongs to, or undefined for the workspace's own files. */
function packageOf(real) {
  const m = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/](.*)$/.exec(real);
  return m ? { name: m[1].replace(/\\/g, '/'), sub: m[2] } : undefined;
}
function bundleable(real) {
  if (!/(\.c?js|[\\/]yargs)$/.test(real) || !real.startsWith(workspace)) return false;
  const p = packageOf(real);
  if (!p) return real.includes(`${path.sep}dist${path.sep}`); // the workspace's built packages
  // ajv's runtime helpers (leaf modules the generated validators require), and the allowed packages.
  if (p.name === 'ajv') return /^dist[\\/]runtime[\\/][\w-]+\.js$/.test(p.sub);
  return THIRD_PARTY.has(p.name);
}

const modules = new Map(); // real path -> { deps: {request: real path}, src }
const queue = [entry, ...extra];
while (queue.length) {
  const file = fs.realpathSync(queue.shift());
  if (modules.has(file)) continue;
  const src = fs.readFileSync(file, 'utf8');
  const deps = {};
  for (const m of src.matchAll(/\brequire\((['"])([^'"]+)\1\)/g)) {
    const req = m[2];
    if (isBuiltin(req)) continue;
    let resolved;
    try {
      resolved = require.resolve(req, { paths: [path.dirname(file)] });
    } catch {
      continue; // optional or build-time-only requires stay with Node's require
    }
    const real = fs.realpathSync(resolved);
    if (!bundleable(real)) continue;
    // undici's index (src/http/undici.ts's fallback) loads fetch, WebSocket, caches: never bundled.
    if (req === 'undici') continue;
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
  // packages/<package>/dist/generated/... (the validator generator) or packages/<package>/dist/... (tsc)
  return rel.slice(0, rel[3] === 'generated' ? 4 : 3).join('/');
}

/** JavaScript source with every non-ASCII UTF-16 unit written as a \u escape (same meaning, one-byte string). */
const ascii = (s) => s.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const stripShebang = (s) => s.replace(/^#!.*\n/, '');

const rel = (f) => path.relative(dist, f);
const parts = [];
// Not "use strict" here: every module has its own directive, or none (yargs.cjs, escalade: sloppy code).
parts.push('(function (nodeRequire, distDir) {\n');
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
// Third-party modules run with module.exports as \`this\`, as under Node's loader.
const thirdParty = [...modules.keys()].filter((f) => packageOf(f)).map(rel);
parts.push(`const thirdParty = new Set(${JSON.stringify(thirdParty)});\n`);
// This build of the bundle, for podimg.bundle.stamp (see fresh()).
parts.push(`const BUILD = ${JSON.stringify(`${Date.now()}-${process.pid}`)};\n`);
parts.push(`
const ascii = ${ascii.toString()};
const stripShebang = ${stripShebang.toString()};
// TypeScript's helpers look for a shared copy on \`this\` first (as tslib's would be): the bundled
// workspace modules run with this object as \`this\` (they never use \`this\` otherwise), and the
// namespace object of a CommonJS module (a builtin) is made once.
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
  req.main = nodeRequire.main; // yargs reads require.main.filename
  defs[key].call(thirdParty.has(key) ? module.exports : helpers, module.exports, req, module, filename, path.dirname(filename));
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
    const stampFile = path.join(distDir, ${JSON.stringify(stampName)});
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
fs.rmSync(path.join(dist, stampName), { force: true }); // a previous build's

// Warm-up, then the code cache: the lazily compiled functions of the hot paths are in it. Nothing is
// made outside a temporary folder, and nothing reaches the network: the hosts config and credentials
// are temporary files, `pull` stops after its arguments are parsed and validated.
const script = new vm.Script(source, { filename: out });
const bundle = script.runInThisContext()(require, dist);
if (!bundle.fresh()) throw new Error('bundle-cli: a bundled file changed while bundling');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-podimg-bundle-'));

/** Runs fn with stdout and stderr writes swallowed (the help texts, `ls` output); returns what was written. */
async function quietly(fn) {
  const saved = [process.stdout.write, process.stderr.write];
  let text = '';
  process.stdout.write = process.stderr.write = (chunk, ...rest) => {
    text += String(chunk);
    const cb = rest.find((r) => typeof r === 'function');
    if (cb) cb();
    return true;
  };
  try {
    await fn();
  } finally {
    [process.stdout.write, process.stderr.write] = saved;
  }
  return text;
}

async function warmUp() {
  const hosts = path.join(tmp, 'registries.json');
  fs.writeFileSync(hosts, '{}');
  const globals = ['--root', path.join(tmp, 'store'), '--hosts-config', hosts, '--auth-file', path.join(tmp, 'auth.json')];
  const cli = bundle.load(path.join('cli', 'podimg.js'));
  const stop = new Error('bundle-cli: warm-up stop');
  // Parsing and validating arguments (each command's builder), stopped before the handler runs.
  for (const argv of [
    ['pull', 'registry.invalid/library/alpine:3.20'],
    ['pull', '--platform', 'linux/arm64', 'registry.invalid/x@sha256:' + 'a'.repeat(64)],
    ['inspect', 'alpine'],
    ['rm', 'alpine'],
  ]) {
    // (yargs throws the middleware's error synchronously, or rejects with it: both end up in err.)
    const err = await Promise.resolve()
      .then(() =>
        cli
          .buildParser([...globals, ...argv])
          .middleware(() => {
            throw stop;
          })
          .parseAsync(),
      )
      .then(
        () => undefined,
        (e) => e,
      );
    if (err !== stop) throw new Error(`bundle-cli: warm-up parse of ${argv.join(' ')} did not reach the handler: ${err && err.message}`);
  }
  // The help texts (yargs would exit the process after printing them).
  for (const argv of [['--help'], ['pull', '--help'], []]) {
    await quietly(() => Promise.resolve().then(() => cli.buildParser(argv).exitProcess(false).parseAsync()).catch(() => undefined));
  }
  // `ls` on an empty temporary store, both output formats, through main() as bin/podimg runs it.
  const json = await quietly(() => cli.main([...globals, 'ls', '-o', 'json']));
  if (json.trim() !== '[]' || process.exitCode) throw new Error(`bundle-cli: warm-up ls printed ${JSON.stringify(json)} (exit code ${process.exitCode})`);
  const table = await quietly(() => cli.main([...globals, 'ls']));
  if (!table.startsWith('NAME') || process.exitCode) throw new Error(`bundle-cli: warm-up ls printed ${JSON.stringify(table)} (exit code ${process.exitCode})`);
  // The image-spec validators a pull runs on what a registry sends.
  const oci = bundle.load(path.relative(dist, path.join(ociDir, 'index.js')));
  const digest = (c) => `sha256:${c.repeat(64)}`;
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/bin'], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: [digest('b')] },
    history: [{ created: '2024-01-01T00:00:00Z', created_by: 'x' }],
  };
  oci.validateImageConfig(config);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest('c'), size: 100 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest('d'), size: 1000 }],
  };
  oci.validateImageManifest(manifest);
  oci.validateImageIndex({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: manifest.mediaType, digest: digest('e'), size: 500, platform: { architecture: 'amd64', os: 'linux' } }],
  });
  oci.parseReference('docker.io/library/alpine:3.20');
  // The parts of undici a pull loads (an Agent is made and closed: it connects only on a request).
  const http = bundle.load(path.join('http', 'undici.js'));
  const Agent = http.undiciAgent();
  const agent = new Agent({ connect: { timeout: 1000 } }).compose(http.redirectInterceptor({ maxRedirections: 5 }));
  await agent.close();
}
warmUp()
  .finally(() => fs.rmSync(tmp, { recursive: true, force: true }))
  .then(() => {
    fs.writeFileSync(cacheFile, script.createCachedData());
    process.stdout.write(`bundle-cli: ${modules.size} modules, ${(source.length / 1024).toFixed(0)} kB, cache ${(fs.statSync(cacheFile).size / 1024).toFixed(0)} kB\n`);
  })
  .catch((err) => {
    fs.rmSync(out, { force: true });
    fs.rmSync(cacheFile, { force: true });
    console.error(err);
    process.exitCode = 1;
  });
