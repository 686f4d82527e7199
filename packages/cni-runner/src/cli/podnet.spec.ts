import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeBin } from '../test-support/fake';
import { defaultContainerId, main, parseCaps, parseCniArgs } from './podnet';

async function run(argv: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const e = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  const saved = process.exitCode;
  process.exitCode = 0;
  try {
    await main(argv);
    return { out, err, code: Number(process.exitCode ?? 0) };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = saved;
  }
}

describe('podnet (with the fake plugin)', () => {
  let bin: FakeBin;
  let confDir: string;
  let runDir: string;
  let g: string[];

  beforeAll(() => {
    bin = new FakeBin(['fake-a', 'fake-b']);
    confDir = fs.mkdtempSync(path.join(os.tmpdir(), 'podnet-conf-'));
    runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'podnet-run-'));
    fs.writeFileSync(path.join(confDir, '10-one.conflist'), JSON.stringify({ cniVersion: '1.1.0', name: 'one', plugins: [{ type: 'fake-a', capabilities: { portMappings: true } }, { type: 'fake-b' }] }));
    fs.writeFileSync(path.join(confDir, '20-two.conf'), JSON.stringify({ cniVersion: '0.3.1', name: 'two', type: 'fake-a' }));
    fs.writeFileSync(path.join(confDir, '30-bad.conflist'), '{');
    g = ['--conf-dir', confDir, '--bin-dir', '/nonexistent', '--bin-dir', bin.dir, '--run-dir', runDir];
  });
  afterAll(() => {
    bin.cleanup();
    fs.rmSync(confDir, { recursive: true, force: true });
    fs.rmSync(runDir, { recursive: true, force: true });
  });
  beforeEach(() => bin.reset());

  it('ls lists the networks and says why a file was skipped', async () => {
    const text = await run([...g, 'ls']);
    expect(text.code).toBe(0);
    expect(text.out).toContain(`one\t1.1.0\tfake-a,fake-b\t${path.join(confDir, '10-one.conflist')}\t(default)`);
    expect(text.out).toMatch(/skipped .*30-bad\.conflist: invalid network configuration .*: \/: is not valid JSON/);
    const j = JSON.parse((await run([...g, 'ls', '-o', 'json'])).out);
    expect(j.networks.map((n: { name: string }) => n.name)).toEqual(['one', 'two']);
    expect(j.skipped).toHaveLength(1);
  });

  it('add -o json prints the result; del and check use the cache; the container ID defaults to a hash of the path', async () => {
    const ns = '/run/netns/podnet-test-ns';
    const add = await run([...g, 'add', 'one', ns, '-o', 'json', '--args', 'A=1;B=2', '--cap', '{"portMappings":[{"hostPort":80,"containerPort":8080,"protocol":"tcp"}]}']);
    expect(add.err).toBe('');
    expect(add.code).toBe(0);
    const result = JSON.parse(add.out);
    expect(result.cniVersion).toBe('1.1.0');
    expect(result.interfaces.map((i: { name: string }) => i.name)).toEqual(['fake-a:eth0', 'fake-b:eth0']);
    const [a] = bin.calls();
    expect(a!.env['CNI_CONTAINERID']).toBe(defaultContainerId(ns));
    expect(a!.env['CNI_ARGS']).toBe('A=1;B=2');
    expect(a!.env['CNI_PATH']).toBe(`/nonexistent:${bin.dir}`);
    expect(a!.stdin['runtimeConfig']).toEqual({ portMappings: [{ hostPort: 80, containerPort: 8080, protocol: 'tcp' }] });
    expect(fs.existsSync(path.join(runDir, 'cni', 'results', `one-${defaultContainerId(ns)}-eth0`))).toBe(true);

    expect((await run([...g, 'check', 'one', ns])).out).toBe('ok\n');
    const status = await run([...g, 'status', 'one']);
    expect(status.out).toBe('one: ready\n');
    bin.reset();
    expect((await run([...g, 'del', 'one', ns])).code).toBe(0);
    expect(bin.calls().map((c) => `${c.type} ${c.env['CNI_COMMAND']}`)).toEqual(['fake-b DEL', 'fake-a DEL']);
    expect(fs.readdirSync(path.join(runDir, 'cni', 'results'))).toEqual([]);
  });

  it('del falls back to the cached configuration when the network file is gone', async () => {
    const extra = path.join(confDir, '40-temp.conflist');
    fs.writeFileSync(extra, JSON.stringify({ cniVersion: '1.0.0', name: 'temp', plugins: [{ type: 'fake-b' }] }));
    await run([...g, 'add', 'temp', '/run/netns/x', '--container-id', 'cid1', '--ifname', 'net1']);
    fs.rmSync(extra);
    bin.reset();
    const del = await run([...g, 'del', 'temp', '/run/netns/x', '--container-id', 'cid1', '--ifname', 'net1']);
    expect(del.err).toBe('');
    expect(bin.calls().map((c) => `${c.type} ${c.env['CNI_COMMAND']} ${c.env['CNI_IFNAME']}`)).toEqual(['fake-b DEL net1']);
  });

  it('gc deletes attachments whose namespace is gone and sends GC to 1.1.0 plugins', async () => {
    await run([...g, 'add', 'one', '/run/netns/does-not-exist', '--container-id', 'old']);
    bin.reset();
    const out = JSON.parse((await run([...g, 'gc', '-o', 'json'])).out);
    expect(out).toEqual([
      { network: 'one', deleted: [{ containerId: 'old', ifName: 'eth0' }], pluginsCollected: true },
      { network: 'two', deleted: [], pluginsCollected: false },
    ]);
    expect(bin.calls().map((c) => `${c.type} ${c.env['CNI_COMMAND']}`)).toEqual(['fake-b DEL', 'fake-a DEL', 'fake-a GC', 'fake-b GC']);
  });

  it('reports errors with exit codes: 1 for failures, 2 for usage', async () => {
    const missing = await run([...g, 'add', 'nope', '/run/netns/x']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^podnet: network "nope" not found in /);
    const usage = await run([...g, 'add', 'one']);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/Not enough non-option arguments/);
    const badCap = await run([...g, 'add', 'one', '/run/netns/x', '--cap', '[1]']);
    expect(badCap.code).toBe(1);
    expect(badCap.err).toMatch(/--cap\/0: must be a JSON object/);
    const badValid = await run([...g, 'gc', '--valid', 'nothing']);
    expect(badValid.err).toMatch(/--valid\/0: "nothing" is not <container-id>\/<ifname>/);
    // A repeatable option does not swallow the command after it.
    expect(JSON.parse((await run(['--conf-dir', confDir, '--bin-dir', bin.dir, 'ls', '-o', 'json'])).out).networks).toHaveLength(2);
    const check = await run([...g, 'check', 'two', '/run/netns/x']);
    expect(check.err).toMatch(/0\.3\.1 does not support the CHECK command/);
  });

  it('parses --args and --cap', () => {
    expect(parseCniArgs('A=1;B=x=y;')).toEqual([
      ['A', '1'],
      ['B', 'x=y'],
    ]);
    expect(() => parseCniArgs('novalue')).toThrow(/--args\/0: "novalue" is not KEY=VALUE/);
    expect(parseCaps(['{"a":1}', '{"b":2}'])).toEqual({ a: 1, b: 2 });
    expect(defaultContainerId('/x')).toBe(defaultContainerId('/x'));
    expect(defaultContainerId('/x')).toMatch(/^podnet-[0-9a-f]{20}$/);
  });
});
