// Shared build step of the CLIs that start from a bundle (runtime-core's podrun, image-store's podimg;
// each package's scripts/bundle-cli.js says what goes into its bundle and how to warm it up): after tsc,
// packs a CLI's module graph into dist/<name>.bundle.js and writes a V8 code cache for it,
// dist/<name>.bundle.cache, so a cold start neither resolves its modules through node_modules and
// package exports nor compiles them (nor the generated validators) again. The launchers that read the
// bundle (bin/podrun, bin/podimg) are published with their packages and do not use this file: the
// bundle is self-contained, and its format is what they rely on.
//
// - The bundle holds compiled dist files (and the third-party files a package allows) verbatim, each in
//   a CommonJS wrapper with its own __filename/__dirname; requests that were resolved at build time are
//   served from the bundle, anything else (the native addon, JSON files, builtins, whatever a package
//   leaves out) goes to Node's require, made for a module only when it first needs it.
// - The bundle is pure ASCII (other characters are written as \u escapes, which mean the same in
//   JavaScript source, strings, templates, regular expressions and comments; only a tagged template's
//   raw text would differ, and the bundled files have no non-ASCII character in one), so the launcher
//   reads it as latin1 into a one-byte string: no UTF-8 decoding.
// - TypeScript's module helpers (`__importStar`, looked up as `this.__importStar`) are shared by all
//   bundled workspace modules and remember the namespace object of each module: `import * as fs` in
//   fifteen files copies fs's hundred exports once, not fifteen times.
// - Freshness: it records the size and mtime of one file per output group (tsc's output of each
//   package, the generated validators, each node_modules folder); tsc (not incremental here) and the
//   validator generator rewrite every file of their group, so one file shows a rebuild. The launcher
//   uses the bundle while they all match; when one differs (a rebuild, or an nx cache restore, which
//   writes the same files anew) it compares every bundled file's text with the bundle's copy, and falls
//   back to dist/cli/<name>.js when any differs. When they are all the same it writes
//   dist/<name>.bundle.stamp (best effort, atomically): this build's id and the files' new sizes and
//   mtimes, so that later runs after an nx cache restore take the quick path again.
// - The code cache is made after the package's warm-up of the hot paths, so it holds the functions V8
//   compiles lazily. V8 checks it against the source and its own version and flags, and ignores it when
//   they differ: a launcher with V8 flags on its shebang line needs runUnderLauncherV8Flags(). Both
//   files are build outputs in dist/, as read-only as the JavaScript itself; a failed warm-up removes
//   them (and fails the build).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');
const { spawnSync } = require('node:child_process');
const { isBuiltin } = require('node:module');

/** The repository's root, with a trailing separator. */
const root = `${path.resolve(__dirname, '..', '..')}${path.sep}`;

/**
 * V8 accepts a code cache only under the flags it was made with. When the launcher runs node with V8
 * flags on its shebang line (a cache made without them is rejected: no gain at all), this runs the
 * calling script again under the same flags, read from the launcher itself so that the two cannot
 * drift apart, and exits with its status; under those flags it returns.
 */
function runUnderLauncherV8Flags(launcher, script) {
  const shebang = fs.readFileSync(launcher, 'utf8').split('\n', 1)[0];
  const v8Flags = shebang.split(/\s+/).filter((a) => a.startsWith('--'));
  if (v8Flags.join(' ') !== process.execArgv.join(' ')) {
    const r = spawnSync(process.execPath, [...v8Flags, script, ...process.argv.slice(2)], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
}

/** The package a node_modules file belongs to, or undefined for the workspace's own files. */
function packageOf(real) {
  const m = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/](.*)$/.exec(real);
  return m ? { name: m[1].replace(/\\/g, '/'), sub: m[2] } : undefined;
}

/** ajv's runtime helpers: leaf modules that the generated validators require. */
function isAjvRuntime(real) {
  const p = packageOf(real);
  return p !== undefined && p.name === 'ajv' && /^dist[\\/]runtime[\\/][\w-]+\.js$/.test(p.sub);
}

/** oci-spec's TypeBox schemas: needed only to compile a validator at run time (never, once generated). */
const isOciSchema = (real) => /[\\/]oci-spec[\\/]dist[\\/]schema[\\/](runtime|image|mount)\.js$/.test(real);

/** The files reachable from the roots through require()s with literal names that `bundleable` allows: real path -> { deps: {request: real path}, src }. */
function collect(roots, bundleable) {
  const modules = new Map();
  const queue = [...roots];
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
      if (!bundleable(real, req) || isOciSchema(real)) continue;
      deps[req] = real;
      queue.push(real);
    }
    modules.set(file, { deps, src });
  }
  return modules;
}

/** The output group of a file: files that one build step always writes together. */
function groupOf(file) {
  const nm = file.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  if (nm >= 0) return path.dirname(file);
  const rel = path.relative(root, file).split(path.sep);
  // packages/<package>/dist/generated/... (the validator generator) or packages/<package>/dist/... (tsc)
  return rel.slice(0, rel[3] === 'generated' ? 4 : 3).join('/');
}

/** JavaScript source with every non-ASCII UTF-16 unit written as a \u escape (same meaning, one-byte string). */
const ascii = (s) => s.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const stripShebang = (s) => s.replace(/^#!.*\n/, '');

/** The bundle's source: the modules' wrappers, then its loader (see bundleCli's nodeCompat). */
function bundleSource({ modules, dist, mainKey, stampName, nodeCompat }) {
  const rel = (f) => path.relative(dist, f);
  const parts = [];
  // With nodeCompat not "use strict" here: every module has its own directive, or none (yargs.cjs,
  // escalade: sloppy code).
  parts.push(`(function (nodeRequire, distDir) {\n${nodeCompat ? '' : '"use strict";\n'}`);
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
  if (nodeCompat) {
    // Third-party modules run with module.exports as `this`, as under Node's loader.
    const thirdParty = [...modules.keys()].filter((f) => packageOf(f)).map(rel);
    parts.push(`const thirdParty = new Set(${JSON.stringify(thirdParty)});\n`);
  }
  // This build of the bundle, for the stamp (see fresh()).
  parts.push(`const BUILD = ${JSON.stringify(`${Date.now()}-${process.pid}`)};\n`);
  parts.push(`
const ascii = ${ascii.toString()};
const stripShebang = ${stripShebang.toString()};
// TypeScript's helpers look for a shared copy on \`this\` first (as tslib's would be): the bundled
${
  nodeCompat
    ? `// workspace modules run with this object as \`this\` (they never use \`this\` otherwise), and the
// namespace object of a CommonJS module (a builtin) is made once.`
    : `// modules run with this object as \`this\` (they never use \`this\` otherwise), and the namespace
// object of a CommonJS module (a builtin) is made once.`
}
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
${
  nodeCompat
    ? `  req.main = nodeRequire.main; // yargs reads require.main.filename
  defs[key].call(thirdParty.has(key) ? module.exports : helpers, module.exports, req, module, filename, path.dirname(filename));`
    : `  defs[key].call(helpers, module.exports, req, module, filename, path.dirname(filename));`
}
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
  main: (argv) => load(${JSON.stringify(mainKey)}).main(argv),
};
})`);
  return ascii(parts.join(''));
}

/**
 * Writes dist/<name>.bundle.js, then runs the warm-up on the loaded bundle and writes
 * dist/<name>.bundle.cache; removes dist/<name>.bundle.stamp (a previous build's).
 * - pkg: the package's folder; entry: its CLI, relative to dist (its exports have main(argv)).
 * - extra: more files to bundle (absolute paths): modules that are required with computed names.
 * - bundleable(real, request): whether `request`, resolved to the real path `real`, may be served from
 *   the bundle (else Node's require loads it). oci-spec's TypeBox schemas never are.
 * - nodeCompat: the bundle holds third-party packages written for Node's loader: no "use strict" for
 *   all modules (sloppy code), module.exports as `this` for node_modules files, require.main.
 * - tmpPrefix: the name of the temporary folder (in os.tmpdir()) that warmUp(bundle, tmp) may use; it is
 *   removed afterwards. warmUp may return a promise; when it fails, the build fails and neither output
 *   is left behind.
 */
function bundleCli({ pkg, name, entry, extra = [], bundleable, nodeCompat = false, tmpPrefix, warmUp }) {
  const dist = path.join(pkg, 'dist');
  const entryFile = path.join(dist, entry);
  const out = path.join(dist, `${name}.bundle.js`);
  const cacheFile = path.join(dist, `${name}.bundle.cache`);
  const stampName = `${name}.bundle.stamp`;

  const modules = collect([entryFile, ...extra], bundleable);
  const mainKey = path.relative(dist, fs.realpathSync(entryFile));
  const source = bundleSource({ modules, dist, mainKey, stampName, nodeCompat });
  fs.writeFileSync(out, source);
  fs.rmSync(path.join(dist, stampName), { force: true }); // a previous build's

  // Warm-up, then the code cache: the lazily compiled functions of the hot paths are in it.
  const script = new vm.Script(source, { filename: out });
  const bundle = script.runInThisContext()(require, dist);
  if (!bundle.fresh()) throw new Error('bundle-cli: a bundled file changed while bundling');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
  return (async () => warmUp(bundle, tmp))()
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
}

module.exports = { bundleCli, runUnderLauncherV8Flags, packageOf, isAjvRuntime, root };
