/**
 * bin/podimg as it is installed and run: executed directly (its shebang's V8 flags apply), loading
 * dist/podimg.bundle.js (scripts/bundle-cli.js) while that is fresh, else dist/cli/podimg.js.
 * PODIMG_BUNDLE_DEBUG=1 makes it say on stderr which one it loaded.
 *
 * The freshness cases (files written again with the same text; a changed text) run on a copy of the
 * package's bin and dist and of the sibling packages' dist, in a temporary folder: never on dist itself.
 * Builds what is missing first (tsc, then the bundle step; the bundle step alone when only the bundle is
 * missing or stale).
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeRegistry } from '../test-support/fake-registry';

const pkg = path.resolve(__dirname, '../..');
const repo = path.resolve(pkg, '../..');
const bin = path.join(pkg, 'bin', 'podimg');
const dist = path.join(pkg, 'dist');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a podimg launcher (executed, not `node file`) with PODIMG_BUNDLE_DEBUG=1, asynchronously (a test server may answer it). */
function run(launcher: string, args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, PODIMG_BUNDLE_DEBUG: '1' };
  delete env.JEST_WORKER_ID; // as outside jest (undici looks at it)
  return new Promise((resolve, reject) => {
    execFile(launcher, args, { env, encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

const BUNDLE = 'podimg: loading dist/podimg.bundle.js\n';
const DIST = 'podimg: loading dist/cli/podimg.js\n';

/** Whether the built bundle is there and fresh (what bin/podimg would load). */
async function bundleFresh(): Promise<boolean> {
  if (!fs.existsSync(path.join(dist, 'podimg.bundle.js'))) return false;
  return (await run(bin, ['--help'])).stderr.startsWith(BUNDLE);
}

/** The files the bundle holds, relative to dist (as its keys are). */
function bundledKeys(): string[] {
  const source = fs.readFileSync(path.join(dist, 'podimg.bundle.js'), 'latin1');
  return [...source.matchAll(/^defs\[("[^"]+")\] = function/gm)].map((m) => JSON.parse(m[1] as string) as string);
}

describe('bin/podimg and its bundle', () => {
  let work: string;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-podimg-bundle-'));
    const build = (cmd: string, args: string[]): void => {
      try {
        execFileSync(cmd, args, { cwd: pkg, stdio: 'pipe', encoding: 'utf8' });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string };
        throw new Error(`bundle.spec: building podimg failed (${cmd} ${args.join(' ')}): ${e.stderr || e.stdout || e.message}`);
      }
    };
    if (!fs.existsSync(path.join(dist, 'cli', 'podimg.js'))) build('npx', ['tsc', '-p', 'tsconfig.lib.json']);
    if (!(await bundleFresh())) build(process.execPath, ['scripts/bundle-cli.js']);
    if (!(await bundleFresh())) throw new Error('bundle.spec: bin/podimg does not load dist/podimg.bundle.js right after scripts/bundle-cli.js');
  }, 180_000);

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('prints its help through the bundle', async () => {
    const r = await run(bin, ['--help']);
    expect(r.stderr).toBe(BUNDLE);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^podimg <command>\n/);
    expect(r.stdout).toContain('podimg pull <ref>');
    expect(r.stdout).toContain('--root');
    // A command's own help (its builder's options), and an error: one line, exit status 1.
    const pull = await run(bin, ['pull', '--help']);
    expect(pull.stdout).toContain('--max-concurrent-downloads');
    const bad = await run(bin, ['no-such-command']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`${BUNDLE}podimg: Unknown argument: no-such-command\n`);
  });

  it('lists an empty store through the bundle, as JSON and as a table', async () => {
    const root = path.join(work, 'empty-store');
    const json = await run(bin, ['--root', root, 'ls', '-o', 'json']);
    expect(json).toEqual({ code: 0, stdout: '[]\n', stderr: BUNDLE });
    const table = await run(bin, ['--root', root, 'ls']);
    expect(table.stdout).toMatch(/^NAME +IMAGE ID +SIZE +PLATFORM +CREATED\n$/);
    expect(fs.readdirSync(root).sort()).toEqual(['content', 'images', 'snapshots']);
  });

  it('pulls from a registry through the bundle (undici and the validators bundled)', async () => {
    const registry = new FakeRegistry();
    await registry.start();
    try {
      const { desc, config } = registry.addImage('lib/app', 'v1', [[{ name: 'etc/', type: 'dir' }, { name: 'etc/hello', data: 'hi\n' }]]);
      const root = path.join(work, 'pull-store');
      const pull = await run(bin, ['--root', root, '--insecure-registry', registry.host, 'pull', '--no-unpack', `${registry.host}/lib/app:v1`]);
      expect(pull.stderr.startsWith(BUNDLE)).toBe(true);
      expect(pull.code).toBe(0);
      const ls = await run(bin, ['--root', root, 'ls', '-o', 'json']);
      expect(ls.code).toBe(0);
      const recs = JSON.parse(ls.stdout) as { name: string; manifest: { digest: string }; platform: { os: string; architecture: string }; diffIds: string[] }[];
      expect(recs).toHaveLength(1);
      expect(recs[0]?.name).toBe(`${registry.host}/lib/app:v1`);
      expect(recs[0]?.manifest.digest).toBe(desc.digest);
      expect(recs[0]?.platform).toMatchObject({ os: 'linux', architecture: 'amd64' });
      expect(recs[0]?.diffIds).toEqual(config.rootfs.diff_ids);
    } finally {
      await registry.stop();
    }
  });

  describe('on a copy of the built files', () => {
    let copyBin: string;
    let copyDist: string;
    let keys: string[];

    beforeAll(() => {
      // The same layout under <work>/copy: packages/image-store/{bin,dist,package.json}, the sibling
      // packages' dist and package.json.
      const top = path.join(work, 'copy');
      const copyPkg = path.join(top, 'packages', 'image-store');
      copyDist = path.join(copyPkg, 'dist');
      copyBin = path.join(copyPkg, 'bin', 'podimg');
      fs.mkdirSync(path.dirname(copyBin), { recursive: true });
      fs.cpSync(bin, copyBin, { preserveTimestamps: true });
      fs.cpSync(path.join(pkg, 'package.json'), path.join(copyPkg, 'package.json'));
      fs.cpSync(dist, copyDist, { recursive: true, preserveTimestamps: true });
      for (const p of ['errdefs', 'oci-spec', 'runtime-core']) {
        fs.cpSync(path.join(repo, 'packages', p, 'dist'), path.join(top, 'packages', p, 'dist'), { recursive: true, preserveTimestamps: true });
        fs.cpSync(path.join(repo, 'packages', p, 'package.json'), path.join(top, 'packages', p, 'package.json'));
      }
      // node_modules: links (the third-party files are not edited here); oci-spec has its own (ajv).
      fs.symlinkSync(path.join(repo, 'node_modules'), path.join(top, 'node_modules'));
      for (const p of ['image-store', 'errdefs', 'oci-spec', 'runtime-core']) {
        const nm = path.join(repo, 'packages', p, 'node_modules');
        if (fs.existsSync(nm)) fs.symlinkSync(nm, path.join(top, 'packages', p, 'node_modules'));
      }
      keys = bundledKeys();
    });

    it('the bundle holds the CLI, the workspace packages it needs, yargs and undici, in pure ASCII', () => {
      const source = fs.readFileSync(path.join(dist, 'podimg.bundle.js'), 'latin1');
      expect([...source].every((c) => c.charCodeAt(0) < 0x80)).toBe(true);
      expect(keys).toEqual(
        expect.arrayContaining([
          'cli/podimg.js',
          'images/store.js',
          '../../errdefs/dist/index.js',
          '../../oci-spec/dist/generated/manifest.js',
          '../../runtime-core/dist/sys/index.js',
          '../../../node_modules/yargs/build/index.cjs',
          '../../../node_modules/undici/lib/dispatcher/agent.js',
        ]),
      );
      // Not undici's index (fetch, WebSocket...), nor anything that is not JavaScript.
      expect(keys).not.toContain('../../../node_modules/undici/index.js');
      expect(keys.every((k) => /\.c?js$/.test(k))).toBe(true);
    });

    /** Writes image-store's own bundled files again with a new mtime, as tsc (not incremental) does on every build. */
    function rewriteOwn(when: Date, edit?: { key: string; from: string; to: string }): void {
      for (const k of keys.filter((key) => !key.startsWith('../'))) {
        const file = path.join(copyDist, k);
        let text = fs.readFileSync(file, 'utf8');
        if (edit?.key === k) {
          expect(text).toContain(edit.from);
          text = text.replace(edit.from, edit.to);
        }
        fs.writeFileSync(file, text);
        fs.utimesSync(file, when, when);
      }
    }

    it('keeps using the bundle when the bundled files are written again with the same text', async () => {
      const root = path.join(work, 'copy-store');
      expect(await run(copyBin, ['--root', root, 'ls', '-o', 'json'])).toEqual({ code: 0, stdout: '[]\n', stderr: BUNDLE });
      // Same texts, new mtimes: what tsc without changes, or an nx cache restore, does.
      const later = new Date(Date.now() + 60_000);
      rewriteOwn(later);
      expect(await run(copyBin, ['--root', root, 'ls', '-o', 'json'])).toEqual({ code: 0, stdout: '[]\n', stderr: BUNDLE });
      // The texts were compared once and a stamp records the new mtimes, for this build of the bundle.
      const stamp = JSON.parse(fs.readFileSync(path.join(copyDist, 'podimg.bundle.stamp'), 'utf8')) as { build: string; checks: [string, number, number][] };
      const own = stamp.checks.filter(([k]) => !k.startsWith('../'));
      expect(own.length).toBeGreaterThan(0);
      // mtimeMs is a float made from seconds + nanoseconds: it may read back as ...240.999.
      for (const [, , mtime] of own) expect(Math.round(mtime)).toBe(later.getTime());
      expect(await run(copyBin, ['--root', root, 'ls', '-o', 'json'])).toEqual({ code: 0, stdout: '[]\n', stderr: BUNDLE });
    });

    it('loads dist/cli/podimg.js once a bundled file has a different text, and still works', async () => {
      const root = path.join(work, 'copy-store-2');
      // tsc after an edit, without the bundle step: every file written again, one text differs.
      rewriteOwn(new Date(Date.now() + 120_000), { key: 'cli/commands/ls.js', from: "'list images'", to: "'list images (edited)'" });
      const help = await run(copyBin, ['--help']);
      expect(help.stderr).toBe(DIST);
      expect(help.stdout).toContain('list images (edited)');
      expect(await run(copyBin, ['--root', root, 'ls', '-o', 'json'])).toEqual({ code: 0, stdout: '[]\n', stderr: DIST });
      // The original texts again (new mtimes): the bundle again.
      fs.writeFileSync(path.join(copyDist, 'cli', 'commands', 'ls.js'), fs.readFileSync(path.join(dist, 'cli', 'commands', 'ls.js')));
      rewriteOwn(new Date(Date.now() + 180_000));
      expect((await run(copyBin, ['--help'])).stderr).toBe(BUNDLE);
      // A bundled file of another package gone, with its group written again: not the bundle.
      const oci = path.join(copyDist, '../../oci-spec/dist');
      const t = new Date(Date.now() + 240_000);
      for (const f of fs.readdirSync(path.join(oci, 'generated'))) fs.utimesSync(path.join(oci, 'generated', f), t, t);
      fs.rmSync(path.join(oci, 'generated', 'layout.js'));
      expect((await run(copyBin, ['--help'])).stderr).toBe(DIST);
    });

    it('says it is not built when dist/cli/podimg.js is missing', async () => {
      fs.rmSync(copyDist, { recursive: true, force: true });
      const r = await run(copyBin, ['--help']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`${DIST}podimg: not built yet: run \`npm run build\` in the podkit repository\n`);
    });
  });
});
