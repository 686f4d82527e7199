#!/usr/bin/env node
// Build step (after tsc): packs podimg's module graph into dist/podimg.bundle.js and writes a V8 code
// cache for it, dist/podimg.bundle.cache, so a cold `podimg` neither resolves ~140 modules through
// node_modules and package exports nor compiles them again. The bundle's format, its freshness checks
// (dist/podimg.bundle.stamp) and the code cache are tools/scripts/cli-bundle.js's, shared with
// runtime-core's podrun, which explains the design; this file says what goes in and how to warm it up:
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
// - The code cache is made after a warm-up that touches neither the network nor /var: argv parsing of
//   `pull` (stopped before its handler), `--help` texts, `ls` (json and table) on a temporary store,
//   validating a sample manifest, index and config, loading undici's parts and making an Agent.
// - V8 takes a code cache only under the V8 flags it was made with: this script runs itself again
//   under the flags of bin/podimg's shebang line (without them, bin/podimg's V8 rejects the cache).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
// A build-time helper read from the source tree, not a dependency on the tools project's build (which
// depends on this package): hidden from nx's project graph, which would otherwise see a cycle.
// nx-ignore-next-line
const { bundleCli, runUnderLauncherV8Flags, packageOf, isAjvRuntime, root } = require('../../../tools/scripts/cli-bundle.js');

const pkg = path.resolve(__dirname, '..');
runUnderLauncherV8Flags(path.join(pkg, 'bin', 'podimg'), __filename);
const dist = path.join(pkg, 'dist');

const ociDir = path.dirname(require.resolve('@podkit/oci-spec', { paths: [dist] }));
// Modules required with computed names (oci-spec's validate.ts: `./generated/${id}.js`): the image-spec
// validators, the only ones image-store uses.
const extra = ['descriptor', 'platform', 'manifest', 'index', 'config', 'layout', 'mount'].map((id) => path.join(ociDir, 'generated', `${id}.js`));

/** Third-party packages whose files may be bundled (CommonJS, no native parts, no computed requires of their own files). */
const THIRD_PARTY = new Set(['undici', 'yargs', 'yargs-parser', 'y18n', 'cliui', 'string-width', 'strip-ansi', 'ansi-regex', 'is-fullwidth-code-point', 'emoji-regex', 'wrap-ansi', 'ansi-styles', 'escalade', 'get-caller-file', 'require-directory']);
function bundleable(real, req) {
  // undici's index (src/http/undici.ts's fallback) loads fetch, WebSocket, caches: never bundled.
  if (req === 'undici') return false;
  if (!/(\.c?js|[\\/]yargs)$/.test(real) || !real.startsWith(root)) return false;
  const p = packageOf(real);
  if (!p) return real.includes(`${path.sep}dist${path.sep}`); // the workspace's built packages
  // ajv's runtime helpers (leaf modules the generated validators require), and the allowed packages.
  if (p.name === 'ajv') return isAjvRuntime(real);
  return THIRD_PARTY.has(p.name);
}

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

/** Touches neither the network nor anything outside tmp: the hosts config and credentials are temporary files, `pull` stops after its arguments are parsed and validated. */
async function warmUp(bundle, tmp) {
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

bundleCli({ pkg, name: 'podimg', entry: path.join('cli', 'podimg.js'), extra, bundleable, nodeCompat: true, tmpPrefix: 'podkit-podimg-bundle-', warmUp });
