/**
 * image-store III against a real registry with auth: Debian's docker-registry with htpasswd basic auth,
 * driven through the real `podimg` process (login / logout with a credentials file, pull, push, export,
 * import, copy), cross-checked with skopeo and umoci:
 * - an image pushed by `podimg push` is copied back by skopeo, unpacked by umoci, and is the same tree;
 * - what `podimg export` writes (oci-dir, oci-archive, docker-archive) is read by skopeo and umoci, and
 *   `podimg import` brings each back into a fresh store with the same config and the same tree;
 * - the global `--auth-file` (before or after the command) takes precedence over $DOCKER_CONFIG;
 * - zstd layers made by `skopeo copy --dest-compress-format zstd` unpack the same as their gzip twins;
 * - wrong or missing credentials fail with one clear line, and no secret ever appears in any output.
 * (The Bearer token flow is covered in packages/image-store: src/auth/*.spec.ts, with the test token
 * server in front of docker-registry.)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildBusyboxLayout, BusyboxLayoutResult } from '@podkit/tools/images/busybox';
import { podimgCommand } from '@podkit/tools/images/podimg';
import { TestRegistry, registryMissing } from '@podkit/tools/images/registry';
import { describeTree, diffTrees } from '../image/tree';

const isRoot = process.getuid?.() === 0;
const missing = !isRoot
  ? 'needs root (overlay whiteouts are device nodes)'
  : (registryMissing({ htpasswd: true }) ?? (['skopeo', 'umoci'].every((t) => spawnSync('which', [t]).status === 0) ? undefined : 'skopeo or umoci missing'));
const suite = missing ? describe.skip : describe;
if (missing) console.warn(`image auth e2e skipped: ${missing}`);

jest.setTimeout(180_000);

const USER = 'e2e-user';
const PASSWORD = 'E2e-Secret-Pass-5';
const outputs: string[] = [];
let dockerConfig = '';

function podimg(args: string[], opts: { allowFail?: boolean; input?: string; dockerConfig?: string } = {}): { status: number | null; stdout: string; stderr: string } {
  const [cmd, argv] = podimgCommand(args);
  // Credentials come from $DOCKER_CONFIG/config.json (the default podimg and skopeo share).
  const env = { ...process.env, DOCKER_CONFIG: opts.dockerConfig ?? dockerConfig };
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 120_000, env, ...(opts.input !== undefined ? { input: opts.input } : {}) });
  outputs.push(r.stdout, r.stderr);
  if (!opts.allowFail && r.status !== 0) throw new Error(`podimg ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function skopeo(args: string[]): string {
  return execFileSync('skopeo', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function tree(dir: string): Promise<Map<string, unknown>> {
  const t = await describeTree(dir);
  t.delete('.'); // each tool makes the root directory with its own mode
  return t as Map<string, unknown>;
}

suite('image-store with registry auth (docker-registry + htpasswd)', () => {
  let work: string;
  let reg: TestRegistry;
  let layout: BusyboxLayoutResult;
  let storeRoot: string;
  let authFile: string;
  const g = (args: string[]): string[] => ['--root', storeRoot, ...args];
  const creds = `${USER}:${PASSWORD}`;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-e2e-imageauth-'));
    storeRoot = path.join(work, 'store');
    dockerConfig = path.join(work, 'docker');
    authFile = path.join(dockerConfig, 'config.json');
    reg = new TestRegistry({ users: { [USER]: PASSWORD } });
    await reg.start();
    layout = buildBusyboxLayout(path.join(work, 'layout'));
    skopeo(['copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${layout.dir}:gzip`, `docker://${reg.host}/lib/busybox:gzip`]);
    // zstd twin: recompressed into a fresh layout (a registry that has the gzip blobs would make skopeo
    // reuse them), then pushed as it is.
    const zstdDir = path.join(work, 'layout-zstd');
    skopeo(['copy', '--quiet', '--dest-compress-format', 'zstd', `oci:${layout.dir}:gzip`, `oci:${zstdDir}:zstd`]);
    skopeo(['copy', '--quiet', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${zstdDir}:zstd`, `docker://${reg.host}/lib/busybox:zstd`]);
  });

  afterAll(async () => {
    await reg?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('refuses a pull without credentials, with one clear line', () => {
    const r = podimg(g(['pull', `${reg.host}/lib/busybox:gzip`]), { allowFail: true });
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`no credentials for ${reg.host} (run podimg login ${reg.host})`);
  });

  it('login: a wrong password fails clearly and stores nothing; the right one (stdin) is stored 0600', () => {
    const bad = podimg(g(['login', reg.host, '-u', USER, '-p', 'Wrong-Pass-3']), { allowFail: true });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain(`rejected the credentials for ${reg.host}`);
    expect(bad.stderr + bad.stdout).not.toContain('Wrong-Pass-3');
    expect(fs.existsSync(authFile)).toBe(false);
    const ok = podimg(g(['login', reg.host, '-u', USER, '--password-stdin']), { input: `${PASSWORD}\n` });
    expect(ok.stdout).toMatch(/Login Succeeded/);
    expect(fs.statSync(authFile).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(fs.readFileSync(authFile, 'utf8'));
    expect(doc.auths[reg.host].auth).toBe(Buffer.from(creds).toString('base64'));
  });

  it('pulls with the stored credentials', () => {
    const rec = JSON.parse(podimg(g(['-o', 'json', 'pull', `${reg.host}/lib/busybox:gzip`])).stdout);
    expect(rec.manifest.digest).toBe(layout.gzip.manifest.digest);
  });

  it('the global --auth-file, before or after the command, is used instead of $DOCKER_CONFIG', () => {
    const elsewhere = path.join(work, 'no-docker-config');
    const root = ['--root', path.join(work, 'store-authfile')];
    const anon = podimg([...root, 'pull', `${reg.host}/lib/busybox:gzip`], { allowFail: true, dockerConfig: elsewhere });
    expect(anon.stderr).toContain('no credentials for');
    const before = JSON.parse(podimg([...root, '--auth-file', authFile, '-o', 'json', 'pull', '--no-unpack', `${reg.host}/lib/busybox:gzip`], { dockerConfig: elsewhere }).stdout);
    expect(before.manifest.digest).toBe(layout.gzip.manifest.digest);
    const after = JSON.parse(podimg([...root, '-o', 'json', 'pull', '--no-unpack', `${reg.host}/lib/busybox:zstd`, '--auth-file', authFile], { dockerConfig: elsewhere }).stdout);
    expect(after.name).toBe(`${reg.host}/lib/busybox:zstd`);
  });

  it('pushes; skopeo copies it back and umoci unpacks the same tree as podimg', async () => {
    const r = podimg(g(['-o', 'json', 'push', `${reg.host}/lib/busybox:gzip`, `${reg.host}/team/copy:v1`]));
    const res = JSON.parse(r.stdout);
    expect(res.digest).toBe(layout.gzip.manifest.digest);
    // Same registry: the blobs are mounted from the image's own repository, not uploaded again.
    expect(res.mounted.length + res.skipped.length).toBe(3);
    const raw = skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds, `docker://${reg.host}/team/copy:v1`]);
    expect(JSON.parse(raw).config.digest).toBe(layout.gzip.config.digest);
    const theirs = path.join(work, 'skopeo-back');
    skopeo(['copy', '--quiet', '--src-tls-verify=false', '--src-creds', creds, `docker://${reg.host}/team/copy:v1`, `oci:${theirs}:v1`]);
    execFileSync('umoci', ['unpack', '--image', `${theirs}:v1`, `${theirs}-bundle`], { stdio: ['ignore', 'ignore', 'pipe'] });
    const ours = path.join(work, 'podimg-gzip');
    podimg(g(['unpack', `${reg.host}/lib/busybox:gzip`, ours]));
    expect(diffTrees((await tree(path.join(ours, 'rootfs'))) as never, (await tree(path.join(`${theirs}-bundle`, 'rootfs'))) as never)).toEqual([]);
  });

  it('unpacks zstd layers (made by skopeo) the same as their gzip twins', async () => {
    const rec = JSON.parse(podimg(g(['-o', 'json', 'pull', `${reg.host}/lib/busybox:zstd`])).stdout);
    expect(rec.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(['application/vnd.oci.image.layer.v1.tar+zstd', 'application/vnd.oci.image.layer.v1.tar+zstd']);
    const ours = path.join(work, 'podimg-zstd');
    podimg(g(['unpack', `${reg.host}/lib/busybox:zstd`, ours]));
    const gzipTree = await tree(path.join(work, 'podimg-gzip', 'rootfs'));
    expect(diffTrees((await tree(path.join(ours, 'rootfs'))) as never, gzipTree as never, ['zstd', 'gzip'])).toEqual([]);
  });

  it('exports oci-dir, oci-archive and docker-archive that skopeo and umoci read', async () => {
    const ref = `${reg.host}/lib/busybox:gzip`;
    const ociDir = path.join(work, 'export-oci');
    const ociTar = path.join(work, 'export-oci.tar');
    const dockerTar = path.join(work, 'export-docker.tar');
    podimg(g(['export', ref, ociDir, '--format', 'oci-dir']));
    podimg(g(['export', ref, ociTar, '--format', 'oci-archive']));
    podimg(g(['export', ref, dockerTar, '--format', 'docker-archive']));
    expect(JSON.parse(skopeo(['inspect', '--raw', `oci:${ociDir}:gzip`])).config.digest).toBe(layout.gzip.config.digest);
    expect(JSON.parse(skopeo(['inspect', '--raw', `oci-archive:${ociTar}:gzip`])).config.digest).toBe(layout.gzip.config.digest);
    expect(JSON.parse(skopeo(['inspect', '--raw', `docker-archive:${dockerTar}`])).config.digest).toBe(layout.gzip.config.digest);
    execFileSync('umoci', ['unpack', '--image', `${ociDir}:gzip`, `${ociDir}-bundle`], { stdio: ['ignore', 'ignore', 'pipe'] });
    expect(diffTrees((await tree(path.join(work, 'podimg-gzip', 'rootfs'))) as never, (await tree(path.join(`${ociDir}-bundle`, 'rootfs'))) as never)).toEqual([]);
  });

  it('imports what it exported (oci-dir, oci-archive, docker-archive) with the same config and tree', async () => {
    const gzipTree = await tree(path.join(work, 'podimg-gzip', 'rootfs'));
    const cases: Array<[string, string]> = [
      [path.join(work, 'export-oci'), 'oci-dir'],
      [path.join(work, 'export-oci.tar'), 'oci-archive'],
      [path.join(work, 'export-docker.tar'), 'docker-archive'],
    ];
    for (const [file, format] of cases) {
      const root = ['--root', path.join(work, `store-import-${format}`)];
      const name = `imported/${format}:v1`;
      const t = podimg([...root, 'import', file, name]);
      expect(t.stdout).toMatch(new RegExp(`^imported docker\\.io/imported/${format}:v1 \\(id [0-9a-f]{12}, 2 layers\\) from ${format}\\n$`));
      const recs = JSON.parse(podimg([...root, '-o', 'json', 'ls']).stdout) as Array<{ name: string; config: { digest: string } }>;
      expect(recs.map((r) => r.name)).toEqual([`docker.io/imported/${format}:v1`]);
      expect(recs[0]?.config.digest).toBe(layout.gzip.config.digest);
      const out = path.join(work, `import-${format}-bundle`);
      podimg([...root, 'unpack', name, out]);
      expect(diffTrees((await tree(path.join(out, 'rootfs'))) as never, gzipTree as never)).toEqual([]);
    }
  });

  it('copies between the registry, an oci-archive and back', () => {
    const tar = path.join(work, 'copy.tar');
    podimg(g(['copy', `docker://${reg.host}/lib/busybox:gzip`, `oci-archive:${tar}:v1`]));
    expect(JSON.parse(skopeo(['inspect', '--raw', `oci-archive:${tar}:v1`])).config.digest).toBe(layout.gzip.config.digest);
    podimg(g(['copy', `oci-archive:${tar}:v1`, `docker://${reg.host}/team/from-archive:v1`]));
    const raw = skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', creds, `docker://${reg.host}/team/from-archive:v1`]);
    expect(JSON.parse(raw).config.digest).toBe(layout.gzip.config.digest);
  });

  it('logout removes the credentials; then the registry refuses again', () => {
    expect(podimg(g(['logout', reg.host])).stdout).toMatch(/Removed login credentials/);
    const r = podimg(g(['pull', `${reg.host}/lib/busybox:gzip`]), { allowFail: true });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('no credentials for');
  });

  it('never printed a secret', () => {
    const secrets = [PASSWORD, Buffer.from(creds).toString('base64')];
    for (const o of outputs) for (const s of secrets) expect(o).not.toContain(s);
  });
});
