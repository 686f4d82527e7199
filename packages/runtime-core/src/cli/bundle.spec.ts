/**
 * dist/podrun.bundle.js (scripts/bundle-cli.js), the form bin/podrun runs: pure ASCII, fresh while the
 * bundled files are the ones it was made from — a copy with new mtimes but the same text (an nx cache
 * restore) still is, and says so in a stamp, a changed text is not — and its code cache is accepted. Works on a copy of the
 * bundled files, never on dist itself. Needs a build (the test skips, saying so, without one).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';

const dist = path.resolve(__dirname, '../../dist');
const bundleFile = path.join(dist, 'podrun.bundle.js');
const built = fs.existsSync(bundleFile) && fs.existsSync(path.join(dist, 'podrun.bundle.cache'));
if (!built) console.warn('bundle.spec: skipped, runtime-core is not built (npx nx run runtime-core:build)');
const maybe = built ? it : it.skip;

interface Bundle {
  fresh(): boolean;
  load(key: string): Record<string, unknown>;
}

function loadBundle(source: string, distDir: string, cachedData?: Buffer): { bundle: Bundle; rejected: boolean | undefined } {
  const script = new vm.Script(source, { filename: path.join(distDir, 'podrun.bundle.js'), ...(cachedData ? { cachedData } : {}) });
  const factory = script.runInThisContext() as (req: NodeJS.Require, dir: string) => Bundle;
  return { bundle: factory(require, distDir), rejected: script.cachedDataRejected };
}

describe('podrun bundle', () => {
  let work: string;
  let source: string;
  let copyDist: string;
  let keys: string[];

  beforeAll(() => {
    if (!built) return;
    source = fs.readFileSync(bundleFile, 'latin1');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-bundle-'));
    // The same layout: <work>/packages/runtime-core/dist, and the sibling packages' files it bundles.
    copyDist = path.join(work, 'packages', 'runtime-core', 'dist');
    keys = [...source.matchAll(/^defs\[("[^"]+")\] = function/gm)].map((m) => JSON.parse(m[1] as string) as string);
    for (const k of keys) {
      const to = path.join(copyDist, k);
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.cpSync(path.join(dist, k), to, { preserveTimestamps: true });
    }
  });
  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  maybe('is pure ASCII and holds the CLI, the runtime, errdefs and the generated validators', () => {
    expect([...source].every((c) => c.charCodeAt(0) < 0x80)).toBe(true);
    expect(keys).toEqual(expect.arrayContaining(['cli/podrun.js', 'container/create.js', '../../errdefs/dist/index.js', '../../oci-spec/dist/generated/spec.js']));
  });

  maybe('its code cache is accepted, and it is fresh on the files it was made from', () => {
    const { bundle, rejected } = loadBundle(source, dist, fs.readFileSync(path.join(dist, 'podrun.bundle.cache')));
    expect(rejected).toBe(false);
    expect(bundle.fresh()).toBe(true);
  });

  maybe('stays fresh when the files are written again with the same text, and not when one changes', () => {
    const { bundle } = loadBundle(source, copyDist);
    expect(bundle.fresh()).toBe(true);
    // New mtimes, same texts (what an nx cache restore or a tsc without changes does).
    const later = new Date(Date.now() + 60_000);
    for (const k of keys) fs.utimesSync(path.join(copyDist, k), later, later);
    expect(bundle.fresh()).toBe(true);
    // ... and it remembers that in a stamp for this build, with the new mtimes.
    const stamp = JSON.parse(fs.readFileSync(path.join(copyDist, 'podrun.bundle.stamp'), 'utf8')) as { checks: [string, number, number][] };
    // mtimeMs is a float made from seconds + nanoseconds: 1795987740241 may read back as ...240.999.
    expect(stamp.checks.map(([, , mtime]) => Math.round(mtime))).toEqual(stamp.checks.map(() => later.getTime()));
    expect(bundle.fresh()).toBe(true);
    // tsc after an edit, without the bundle step: every file written again, one module's text differs.
    // dist/ must be used.
    const state = path.join(copyDist, 'container', 'state.js');
    fs.appendFileSync(state, '\n// edited\n');
    const rebuilt = new Date(Date.now() + 120_000);
    for (const k of keys) fs.utimesSync(path.join(copyDist, k), rebuilt, rebuilt);
    expect(bundle.fresh()).toBe(false);
    // Gone: likewise.
    fs.rmSync(state);
    expect(bundle.fresh()).toBe(false);
  });

  maybe('runs bundled modules once each, with working `import * as` of builtins', () => {
    const { bundle } = loadBundle(source, dist);
    const store = bundle.load('container/store.js') as { rfc3339Nano: () => string; StateStore: new (root: string) => { ids(): string[] } };
    expect(bundle.load('container/store.js')).toBe(store);
    expect(store.rfc3339Nano()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    // StateStore.ids() goes through the shared `import * as fs` namespace (readdirSync, existsSync).
    expect(new store.StateStore(path.join(work, 'no-such-root')).ids()).toEqual([]);
    fs.mkdirSync(path.join(work, 'root', 'c1'), { recursive: true });
    fs.writeFileSync(path.join(work, 'root', 'c1', 'state.json'), '{}');
    expect(new store.StateStore(path.join(work, 'root')).ids()).toEqual(['c1']);
  });
});
