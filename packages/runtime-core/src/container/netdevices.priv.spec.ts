/**
 * linux.netDevices against the real kernel, never touching the machine's own links: every device is
 * a veth made inside network namespaces this test creates (`ip netns add`), and the runtime that
 * moves it runs inside such a namespace (a child Node process started with nsenter), so "the
 * runtime's network namespace" is a test namespace. Needs root.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { netdevMove } from '../sys/native';
import { describeAsRoot } from '../test-support/priv';
import { suiteEnv } from '../test-support/run';

const describeRoot = describeAsRoot('netdevices.priv.spec', 'network namespaces, mounts, cgroups');

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });

/** A network namespace made for this test (/run/netns/<name>), deleted by `del`. */
class TestNetns {
  readonly path: string;
  constructor(readonly name: string) {
    ip('netns', 'add', name);
    this.path = `/run/netns/${name}`;
  }
  ip(...args: string[]): string {
    return ip('-n', this.name, ...args);
  }
  del(): void {
    spawnSync('ip', ['netns', 'del', this.name]);
  }
}

/**
 * Runs create/start/wait/delete of the bundle in a child Node process inside the network namespace
 * `netnsPath`, from the TypeScript sources (compiled on the fly with @swc/core, as jest does).
 */
function runInNetns(netnsPath: string, stateRoot: string, bundle: string, id: string, out: string): { status: number | null; stdout: string; stderr: string } {
  const runtimeTs = path.resolve(__dirname, 'runtime.ts');
  const script = `
const fs = require('node:fs');
const swc = require('@swc/core');
require.extensions['.ts'] = (m, f) => m._compile(swc.transformSync(fs.readFileSync(f, 'utf8'), { filename: f, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }).code, f);
const { Runtime } = require(${JSON.stringify(runtimeTs)});
(async () => {
  const rt = new Runtime({ root: ${JSON.stringify(stateRoot)} });
  const fd = fs.openSync(${JSON.stringify(out)}, 'w');
  try {
    await rt.create(${JSON.stringify(id)}, { bundle: ${JSON.stringify(bundle)}, stdio: { stdout: fd, stderr: fd } });
  } finally {
    fs.closeSync(fd);
  }
  await rt.start(${JSON.stringify(id)});
  const st = await rt.wait(${JSON.stringify(id)});
  await rt.delete(${JSON.stringify(id)});
  process.stdout.write(JSON.stringify(st));
})().catch((e) => { process.stderr.write(String(e && e.message)); process.exit(3); });
`;
  const r = spawnSync('nsenter', [`--net=${netnsPath}`, process.execPath, '--conditions=@podkit/source', '-e', script], {
    cwd: path.resolve(__dirname, '../..'),
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describeRoot('linux.netDevices (privileged, in test network namespaces only)', () => {
  const env = suiteEnv();
  const made: TestNetns[] = [];
  const netns = (tag: string) => {
    const n = new TestNetns(`podkit-nd-${process.pid}-${tag}`);
    made.push(n);
    return n;
  };
  afterEach(() => {
    for (const n of made.splice(0)) n.del();
  });

  it('moves a device between two namespaces: renamed, permanent global addresses kept, set up', async () => {
    const a = netns('a');
    const b = netns('b');
    a.ip('link', 'add', 'nd0', 'type', 'veth', 'peer', 'name', 'nd0p');
    a.ip('addr', 'add', '10.231.0.1/24', 'dev', 'nd0');
    a.ip('addr', 'add', 'fd00:231::1/64', 'dev', 'nd0', 'nodad');
    // b already has an interface at nd0's ifindex and one named "taken".
    b.ip('link', 'add', 'taken', 'type', 'veth', 'peer', 'name', 'taken2');
    const moved = await netdevMove(b.path, [{ host: 'nd0', name: 'ctr0' }], a.path);
    expect(moved).toEqual([{ host: 'nd0', name: 'ctr0', index: expect.any(Number), addresses: 2 }]);
    const shown = b.ip('-o', 'addr', 'show', 'dev', 'ctr0');
    expect(shown).toContain('inet 10.231.0.1/24');
    expect(shown).toContain('inet6 fd00:231::1/64');
    expect(b.ip('-o', 'link', 'show', 'dev', 'ctr0')).toMatch(/<[^>]*\bUP\b[^>]*>/);
    expect(a.ip('-o', 'link')).not.toMatch(/\bnd0:/);
    // A template gets the kernel's next free name; a taken name and a missing device are errors.
    expect(await netdevMove(b.path, [{ host: 'nd0p', name: 'net%d' }], a.path)).toMatchObject([{ host: 'nd0p', name: 'net0', addresses: 0 }]);
    a.ip('link', 'add', 'nd1', 'type', 'veth', 'peer', 'name', 'nd1p');
    await expect(netdevMove(b.path, [{ host: 'nd1', name: 'taken' }], a.path)).rejects.toThrow(/a device named taken already exists in the container's network namespace/);
    await expect(netdevMove(b.path, [{ host: 'nope0', name: 'x' }], a.path)).rejects.toThrow(/nope0: no such network device in the runtime's network namespace/);
  });

  it('create moves linux.netDevices from the runtime\'s namespace into the container\'s, before the process runs', () => {
    const host = netns('host');
    host.ip('link', 'add', 'nd0', 'type', 'veth', 'peer', 'name', 'nd0p');
    host.ip('addr', 'add', '10.232.0.1/24', 'dev', 'nd0');
    const spec = env.spec(['sh', '-c', 'ip -o addr show dev ctr0; ip -o link show dev ctr0; echo "links: $(ip -o link | cut -d: -f2 | cut -d@ -f1 | tr -d " " | tr "\\n" " ")"'], (s) => {
      s.linux!.netDevices = { nd0: { name: 'ctr0' } };
    });
    env.bundle.write(spec);
    const id = env.nextId('nd');
    const out = path.join(env.bundle.dir, `${id}.out`);
    const r = runInNetns(host.path, env.root, env.bundle.dir, id, out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ exitCode: 0 });
    const text = fs.readFileSync(out, 'utf8');
    expect(text).toContain('inet 10.232.0.1/24');
    expect(text).toMatch(/ctr0(@\S+)?: <[^>]*\bUP\b/);
    expect(text).toMatch(/^links: lo ctr0 $/m);
    // Gone from the runtime's namespace; with the container's namespace gone the veth pair is too.
    expect(host.ip('-o', 'link')).not.toMatch(/\bnd0[:@]/);
  });

  it('create fails, naming the device, when it is not in the runtime\'s namespace', () => {
    const host = netns('host2');
    const spec = env.spec(['true'], (s) => (s.linux!.netDevices = { absent0: {} }));
    env.bundle.write(spec);
    const id = env.nextId('nd');
    const r = runInNetns(host.path, env.root, env.bundle.dir, id, path.join(env.bundle.dir, `${id}.out`));
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^linux\.netDevices\.absent0: .*absent0: no such network device in the runtime's network namespace/);
    expect(fs.existsSync(path.join(env.root, id))).toBe(false);
  });
});
