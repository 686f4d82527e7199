#!/usr/bin/env node
// Build step (after tsc): packs podrun's module graph into dist/podrun.bundle.js and writes a V8 code
// cache for it, dist/podrun.bundle.cache, so a cold `podrun` neither resolves ~40 modules through
// package exports nor compiles them (nor the generated config.json validator) again. The bundle's
// format, its freshness checks and the code cache are tools/scripts/cli-bundle.js's (shared with
// image-store's podimg); this file says what goes in and how to warm it up.
//
// - The bundle holds the compiled dist files (runtime-core's, @podkit/errdefs', the runtime-spec half
//   of @podkit/oci-spec with its generated validators, and ajv's tiny runtime helpers they require);
//   anything else (yargs for --help, the native addon, builtins) goes to Node's require.
// - The code cache is made after a warm-up of the hot paths (argv parsing, validating a default
//   config, `create` up to the point where it would make something, the state store on a temporary
//   root). bin/podrun runs node without V8 flags, as this script runs.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
// A build-time helper read from the source tree, not a dependency on the tools project's build (which
// depends on this package): hidden from nx's project graph, which would otherwise see a cycle.
// nx-ignore-next-line
const { bundleCli, isAjvRuntime } = require('../../../tools/scripts/cli-bundle.js');

const pkg = path.resolve(__dirname, '..');
const dist = path.join(pkg, 'dist');
const packages = `${path.resolve(pkg, '..')}${path.sep}`;

const ociDir = path.dirname(require.resolve('@podkit/oci-spec', { paths: [dist] }));
// Modules required with computed names (container/oci.ts, oci-spec's validate.ts): listed here.
const extra = [path.join(ociDir, 'runtime-spec.js'), ...['spec', 'process', 'features', 'state'].map((id) => path.join(ociDir, 'generated', `${id}.js`))];

/** The workspace's own packages (errdefs, oci-spec, runtime-core); of third-party code only ajv's runtime helpers. */
function bundleable(real, req) {
  if (req === 'yargs/yargs' || !real.endsWith('.js') || !real.startsWith(packages)) return false;
  return !real.includes(`${path.sep}node_modules${path.sep}`) || isAjvRuntime(real);
}

const settle = (p) => Promise.resolve(p).then(
  () => undefined,
  () => undefined,
);

/** Nothing outside a temporary folder is made: `create` stops at the missing rootfs, before it reserves the id. */
async function warmUp(bundle, tmp) {
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

bundleCli({ pkg, name: 'podrun', entry: path.join('cli', 'podrun.js'), extra, bundleable, tmpPrefix: 'podkit-bundle-cli-', warmUp });
