/**
 * podimg login / logout / push / export / copy through main(), against in-process registries: a
 * Bearer gate (test token server) in front of a registry that accepts pushes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { FakeRegistry } from '../test-support/fake-registry';
import { PushRegistry } from '../test-support/push-registry';
import { BearerGate, TokenServer } from '../test-support/token-server';
import { openLayout } from '../layout/import';
import { runPodimg } from '../test-support/cli-run';
import { readPasswordStdin } from './registry-args';

const PASSWORD = 'Cli-Pass-123';

describe('podimg registry commands', () => {
  let dir: string;
  let fake: FakeRegistry;
  let push: PushRegistry;
  let tokens: TokenServer;
  let gate: BearerGate;
  let g: string[];
  let authFile: string;
  const outputs: string[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-podimg-reg-'));
    fake = new FakeRegistry();
    await fake.start();
    push = new PushRegistry(fake);
    await push.start();
    tokens = new TokenServer({ users: { alice: PASSWORD } });
    await tokens.start();
    gate = new BearerGate(tokens, `http://${push.host}`);
    await gate.start();
    fake.addImage('lib/app', 'v1', [[{ name: 'etc/', type: 'dir' }, { name: 'etc/hello', data: 'hi\n' }]]);
    push.link('lib/app', [...fake.blobs.keys()][0] as string);
    authFile = path.join(dir, 'cfg', 'config.json');
    g = ['--root', path.join(dir, 'store')];
  });
  afterAll(async () => {
    await gate.stop();
    await tokens.stop();
    await push.stop();
    await fake.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    const secrets = [PASSWORD, Buffer.from(`alice:${PASSWORD}`).toString('base64'), ...tokens.grants.keys()];
    for (const o of outputs) for (const s of secrets) expect(o).not.toContain(s);
  });

  async function podimg(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const r = await runPodimg(argv);
    outputs.push(r.stdout, r.stderr);
    return r;
  }

  it('reads a password from stdin (first line)', async () => {
    expect(await readPasswordStdin(Readable.from([Buffer.from('pa'), Buffer.from('ss\nrest\n')]))).toBe('pass');
  });

  it('login: wrong password is one clear line; right one is stored; logout removes it', async () => {
    const bad = await podimg([...g, 'login', gate.host, '-u', 'alice', '-p', 'nope', '--auth-file', authFile]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^podimg: token for .*: HTTP 401: the token server refused user "alice"\n$/);
    const both = await podimg([...g, 'login', gate.host, '-u', 'alice', '--auth-file', authFile]);
    expect(both.stderr).toMatch(/give exactly one of -p\/--password and --password-stdin/);
    const ok = await podimg([...g, 'login', gate.host, '-u', 'alice', '-p', PASSWORD, '--auth-file', authFile]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`Login Succeeded (${gate.host}, credentials in ${authFile})\n`);
    const out = await podimg([...g, 'logout', gate.host, '--auth-file', authFile]);
    expect(out.stdout).toBe(`Removed login credentials for ${gate.host} from ${authFile}\n`);
    expect((await podimg([...g, 'logout', gate.host, '--auth-file', authFile])).stdout).toMatch(/^Not logged in/);
  });

  it('pull: credentials from the global --auth-file, given before or after the command', async () => {
    const file = path.join(dir, 'pull-auth', 'config.json');
    const root = ['--root', path.join(dir, 'store-pull')];
    const anon = await podimg([...root, '--auth-file', path.join(dir, 'none.json'), 'pull', '--no-unpack', `${gate.host}/lib/app:v1`]);
    expect(anon.code).not.toBe(0);
    expect(anon.stderr).toMatch(/token server refused anonymous access/);
    expect((await podimg([...root, '--auth-file', file, 'login', gate.host, '-u', 'alice', '-p', PASSWORD])).code).toBe(0);
    const granted = tokens.grants.size;
    const before = await podimg([...root, '--auth-file', file, 'pull', '--no-unpack', `${gate.host}/lib/app:v1`]);
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(new RegExp(`^pulled ${gate.host}/lib/app:v1 \\(id [0-9a-f]{12}, 1 layers\\)\n$`));
    expect(tokens.grants.size).toBeGreaterThan(granted);
    const after = await podimg([...root, '-o', 'json', 'pull', '--no-unpack', `${gate.host}/lib/app:v1`, '--auth-file', file]);
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout).name).toBe(`${gate.host}/lib/app:v1`);
    const ls = await podimg([...root, '-o', 'json', 'ls']);
    expect(JSON.parse(ls.stdout).map((r: { name: string }) => r.name)).toEqual([`${gate.host}/lib/app:v1`]);
  });

  it('pull: endpoints from the global --hosts-config (a mirror for a registry that does not resolve)', async () => {
    const hosts = path.join(dir, 'registries.json');
    fs.writeFileSync(hosts, JSON.stringify({ registries: { 'registry.invalid': { mirrors: [{ url: `http://${fake.host}` }] } } }));
    const root = ['--root', path.join(dir, 'store-mirror')];
    const r = await podimg([...root, '--hosts-config', hosts, 'pull', '--no-unpack', 'registry.invalid/lib/app:v1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^pulled registry\.invalid\/lib\/app:v1 /);
    const bad = path.join(dir, 'bad-registries.json');
    fs.writeFileSync(bad, '{"registries": {"x": {"mirrors": 3}}}');
    const e = await podimg([...root, 'pull', 'registry.invalid/lib/app:v1', '--hosts-config', bad]);
    expect(e.code).not.toBe(0);
    expect(e.stderr).toMatch(/mirrors/);
  });

  it('copy from the registry, push through the gate with the stored credentials, export', async () => {
    expect((await podimg([...g, 'login', gate.host, '-u', 'alice', '-p', PASSWORD, '--auth-file', authFile])).code).toBe(0);
    // An image into the store: copy registry → oci dir, then pull (anonymous, from the backing registry).
    const oci = path.join(dir, 'oci');
    const c = await podimg([...g, 'copy', `docker://${gate.host}/lib/app:v1`, `oci:${oci}:v1`, '--auth-file', authFile]);
    expect(c.stderr).toBe('');
    expect(c.stdout).toMatch(/^copied docker:\/\/.* \(sha256:[0-9a-f]{64}, 3 blobs\)\n$/);
    expect((await podimg([...g, 'pull', '--no-unpack', `${fake.host}/lib/app:v1`])).code).toBe(0);
    const p = await podimg([...g, '-o', 'json', 'push', `${fake.host}/lib/app:v1`, `${gate.host}/team/app:v2`, '--auth-file', authFile]);
    expect(p.stderr).toBe('');
    const res = JSON.parse(p.stdout);
    expect(res.name).toBe(`${gate.host}/team/app:v2`);
    expect(res.pushed.length + res.mounted.length + res.skipped.length).toBe(2); // config and layer
    expect(fake.manifests.get('team/app:v2')).toBeDefined();
    const noCreds = await podimg([...g, 'push', `${fake.host}/lib/app:v1`, `${gate.host}/team/app:v3`, '--auth-file', path.join(dir, 'none.json')]);
    expect(noCreds.code).not.toBe(0);
    expect(noCreds.stderr).toMatch(/token server refused anonymous access/);
    for (const format of ['oci-dir', 'oci-archive', 'docker-archive']) {
      const target = path.join(dir, `export-${format}`);
      const e = await podimg([...g, 'export', `${fake.host}/lib/app:v1`, target, '--format', format]);
      expect(e.stdout).toMatch(new RegExp(`as ${format}\\n$`));
      const { source } = await openLayout(target);
      expect(source.images).toHaveLength(1);
    }
  });
});
