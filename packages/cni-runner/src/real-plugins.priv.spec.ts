/**
 * The runner with Debian's real plugins (bridge + host-local + loopback + portmap + firewall + tuning),
 * all inside a network namespace that this test creates as the "host": the plugin processes run in it,
 * the bridge and the iptables rules live in it, and it has no route out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { isPodkitError } from '@podkit/errdefs';
import { netnsExecCommand } from '@podkit/runtime-core/sys';
import { parseConfList } from './conf';
import { CniRunner } from './runner';
import { bridgeConfList, PLUGIN_ENV, runIn, TestHost, uniqueName } from './test-support/hostns';
import type { NetworkConfigList, RuntimeConf } from './types';

const root = process.getuid?.() === 0;
const havePlugins = fs.existsSync('/usr/lib/cni/bridge');
// Needs root (namespaces, veths, iptables) and Debian's containernetworking-plugins in /usr/lib/cni.
const describePriv = root && havePlugins ? describe : describe.skip;

function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(dir));
}

function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** Starts a process inside a namespace and resolves once it printed `ready`. */
function startIn(nsPath: string, argv: string[]): Promise<ChildProcess> {
  const cmd = netnsExecCommand(nsPath, argv);
  const child = spawn(cmd.file, cmd.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout?.on('data', (b: Buffer) => {
      buf += b.toString();
      if (buf.includes('ready')) resolve(child);
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`server exited early (${code}): ${buf}`)));
  });
}

function runNode(nsPath: string, script: string): Promise<string> {
  const cmd = netnsExecCommand(nsPath, [process.execPath, '-e', script]);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.file, cmd.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`client failed (${code}): ${err}`))));
  });
}

describePriv('CNI runner with the real plugins, inside a private host namespace', () => {
  let host: TestHost;
  let runner: CniRunner;
  let list: NetworkConfigList;
  const network = uniqueName('podkitnet');
  const pmListen = 18080;

  beforeAll(async () => {
    host = await new TestHost().start();
    list = parseConfList(bridgeConfList(network, host.dataDir));
    runner = new CniRunner({ runDir: host.runDir, pluginNetns: host.hostNs, env: PLUGIN_ENV, binDirs: ['/usr/lib/cni'], timeoutMs: 30_000 });
  });

  afterAll(async () => {
    // Best effort DEL of whatever is still cached, then the namespaces go (taking bridge, veths and rules).
    for (const att of runner?.cache.list() ?? []) {
      await runner.del(list, { containerId: att.containerId, ifName: att.ifName, netns: '' }).catch(() => undefined);
    }
    await host?.stop();
  });

  it('attaches two pods that get IPs from the range and reach each other over the bridge', async () => {
    const p1 = await host.pod();
    const p2 = await host.pod();
    const rt1: RuntimeConf = { containerId: uniqueName('c'), netns: p1, ifName: 'eth0' };
    const rt2: RuntimeConf = { containerId: uniqueName('c'), netns: p2, ifName: 'eth0' };
    const r1 = await runner.add(list, rt1);
    const r2 = await runner.add(list, rt2);
    const ip1 = r1.ips?.[0]?.address.split('/')[0] ?? '';
    const ip2 = r2.ips?.[0]?.address.split('/')[0] ?? '';
    expect(ip1).toMatch(/^10\.88\.0\.\d+$/);
    expect(ip2).toMatch(/^10\.88\.0\.\d+$/);
    expect(ip1).not.toBe(ip2);
    expect(r1.interfaces?.find((i) => i.sandbox === p1)?.name).toBe('eth0');
    expect(host.leases(network).sort()).toEqual([ip1, ip2].sort());
    // The tuning plugin ran in the pod: its sysctl is set there.
    expect(runIn(p1, ['cat', '/proc/sys/net/core/somaxconn']).trim()).toBe('512');
    // loopback is up in the pod (the loopback plugin), eth0 has the address.
    expect(runIn(p1, ['ip', '-o', 'addr', 'show', 'dev', 'lo'])).toContain('127.0.0.1/8');
    expect(runIn(p1, ['/bin/busybox', 'ping', '-c', '1', '-W', '5', ip2])).toMatch(/1 packets received/);
    await runner.check(list, rt1);
    await runner.del(list, rt1);
    await runner.del(list, rt2);
    expect(host.leases(network)).toEqual([]);
    expect(host.hostLinks().filter((l) => l.startsWith('veth'))).toEqual([]);
    await host.removePod(p1);
    await host.removePod(p2);
  });

  it('reaches a TCP server in a pod through a portmap host port from the host namespace', async () => {
    const pod = await host.pod();
    const rt: RuntimeConf = {
      containerId: uniqueName('c'),
      netns: pod,
      ifName: 'eth0',
      capabilityArgs: { portMappings: [{ hostPort: pmListen, containerPort: 8080, protocol: 'tcp' }] },
    };
    await runner.add(list, rt);
    const server = await startIn(pod, [
      process.execPath,
      '-e',
      "require('net').createServer((s) => { s.end('hello from the pod\\n'); }).listen(8080, '0.0.0.0', () => console.log('ready'))",
    ]);
    try {
      // 10.88.0.1 is the bridge's address in the host namespace: a local address, so portmap's OUTPUT DNAT applies.
      const got = await runNode(
        host.hostNs,
        `const s = require('net').connect(${pmListen}, '10.88.0.1'); let d = ''; s.on('data', (b) => (d += b)); s.on('end', () => { process.stdout.write(d); }); s.on('error', (e) => { console.error(e.message); process.exit(1); });`,
      );
      expect(got).toBe('hello from the pod\n');
      expect(host.iptablesSave()).toContain(`--dport ${pmListen}`);
    } finally {
      server.kill('SIGKILL');
    }
    await runner.del(list, rt);
    expect(host.iptablesSave()).not.toContain(`--dport ${pmListen}`);
    await host.removePod(pod);
  });

  it('CHECK fails after the pod interface is deleted; DEL still releases the IP and the veth', async () => {
    const pod = await host.pod();
    const rt: RuntimeConf = { containerId: uniqueName('c'), netns: pod, ifName: 'eth0' };
    const res = await runner.add(list, rt);
    const ip = res.ips?.[0]?.address.split('/')[0] ?? '';
    await runner.check(list, rt);
    runIn(pod, ['ip', 'link', 'del', 'eth0']);
    let err: unknown;
    try {
      await runner.check(list, rt);
    } catch (e) {
      err = e;
    }
    expect(isPodkitError(err)).toBe(true);
    expect((err as Error).message).toMatch(/^plugin type="bridge" name="podkitnet\d+x\d+" failed \(check\): /);
    expect(host.leases(network)).toEqual([ip]);
    // DEL from a fresh runner (a restart): the cache on disk is all it needs.
    const restarted = new CniRunner({ runDir: host.runDir, pluginNetns: host.hostNs, env: PLUGIN_ENV, binDirs: ['/usr/lib/cni'] });
    await restarted.del(list, { containerId: rt.containerId, netns: pod, ifName: 'eth0' });
    expect(host.leases(network)).toEqual([]);
    expect(host.hostLinks().filter((l) => l.startsWith('veth'))).toEqual([]);
    expect(host.iptablesSave()).not.toContain(`${ip}/32`);
    await runner.del(list, rt); // idempotent
    await host.removePod(pod);
  });

  it('GC deletes the attachment of a pod that is gone and keeps the live one', async () => {
    const live = await host.pod();
    const gone = await host.pod();
    const rtLive: RuntimeConf = { containerId: uniqueName('c'), netns: live, ifName: 'eth0' };
    const rtGone: RuntimeConf = {
      containerId: uniqueName('c'),
      netns: gone,
      ifName: 'eth0',
      capabilityArgs: { portMappings: [{ hostPort: pmListen + 1, containerPort: 80, protocol: 'tcp' }] },
    };
    const rl = await runner.add(list, rtLive);
    const rg = await runner.add(list, rtGone);
    const ipGone = rg.ips?.[0]?.address.split('/')[0] ?? '';
    await host.removePod(gone); // the pod is gone: its namespace (and the veth in it) went away
    expect(host.leases(network)).toContain(ipGone);
    const out = await runner.gc(list, [{ containerID: rtLive.containerId, ifname: 'eth0' }]);
    expect(out).toEqual({ deleted: [{ containerId: rtGone.containerId, ifName: 'eth0' }], pluginsCollected: false });
    expect(host.leases(network)).toEqual([rl.ips?.[0]?.address.split('/')[0]]);
    const rules = host.iptablesSave();
    expect(rules).not.toContain(`--dport ${pmListen + 1}`);
    expect(rules).not.toContain(`${ipGone}/32`);
    expect(runner.cache.list().map((a) => a.containerId)).toEqual([rtLive.containerId]);
    await runner.del(list, rtLive);
    await host.removePod(live);
  });

  it('200 ADD/DEL cycles leave no interface, lease, iptables rule, mount, cache entry or fd behind', async () => {
    // Warm-up: the first ADD creates the shared bridge and the plugins' top-level chains, which stay by design.
    const warm = await host.pod();
    const wrt: RuntimeConf = { containerId: uniqueName('c'), netns: warm, ifName: 'eth0', capabilityArgs: { portMappings: [{ hostPort: 20000, containerPort: 80, protocol: 'tcp' }] } };
    await runner.add(list, wrt);
    await runner.del(list, wrt);
    await host.removePod(warm);
    const rules = host.iptablesSave();
    const links = host.hostLinks();
    const mounts = mountsUnder(host.runDir);
    const fds = fdCount();

    const cycles = 200;
    const workers = 2;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < cycles) {
        const i = next++;
        const pod = await host.pod();
        const rt: RuntimeConf = {
          containerId: uniqueName('cyc'),
          netns: pod,
          ifName: 'eth0',
          capabilityArgs: { portMappings: [{ hostPort: 21000 + i, containerPort: 80, protocol: 'tcp' }] },
        };
        await runner.add(list, rt);
        await runner.del(list, rt);
        await host.removePod(pod);
      }
    };
    await Promise.all(Array.from({ length: workers }, worker));

    expect(host.leases(network)).toEqual([]);
    expect(host.hostLinks()).toEqual(links);
    expect(host.iptablesSave()).toBe(rules);
    expect(mountsUnder(host.runDir)).toEqual(mounts);
    expect(runner.cache.list()).toEqual([]);
    expect(await host.store.list()).toEqual([{ name: expect.stringMatching(/^host/), path: host.hostNs }]);
    expect(fdCount()).toBeLessThanOrEqual(fds);
  }, 150_000);
});
