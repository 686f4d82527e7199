import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  codeOf,
  isDeadlineExceeded,
  isInternal,
  isInvalidArgument,
  isNotFound,
  isUnavailable,
  isUnimplemented,
  type PodkitError,
} from '@podkit/errdefs';
import { parseConfList } from './conf';
import { CniRunner } from './runner';
import { FakeBin } from './test-support/fake';
import type { NetworkConfigList } from './types';

function list(cniVersion: string, plugins: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}): NetworkConfigList {
  return parseConfList(JSON.stringify({ name: 'testnet', cniVersion, plugins, ...extra }));
}

async function failure(p: Promise<unknown>): Promise<PodkitError> {
  try {
    await p;
  } catch (err) {
    return err as PodkitError;
  }
  throw new Error('expected a failure');
}

describe('CniRunner with the fake plugin', () => {
  let bin: FakeBin;
  let cacheDir: string;
  let runner: CniRunner;
  const rt = { containerId: 'ctr1', netns: '/var/run/netns/fake', ifName: 'eth0' };

  beforeAll(() => {
    bin = new FakeBin(['fake-a', 'fake-b', 'fake-c']);
  });
  afterAll(() => bin.cleanup());
  beforeEach(() => {
    bin.reset();
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-cnicache-'));
    runner = new CniRunner({ binDirs: ['/nonexistent-bin', bin.dir], cacheDir, timeoutMs: 10_000 });
  });
  afterEach(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

  it('chains ADD through the list with name, cniVersion and prevResult injected, and sets the environment', async () => {
    const l = list('1.0.0', [{ type: 'fake-a', custom: 1 }, { type: 'fake-b' }]);
    const result = await runner.add(l, { ...rt, args: [['K8S_POD_NAME', 'p1'], ['IgnoreUnknown', 'true']] });
    expect(result.cniVersion).toBe('1.1.0');
    expect(result.interfaces?.map((i) => i.name)).toEqual(['fake-a:eth0', 'fake-b:eth0']);
    const calls = bin.calls();
    expect(calls.map((c) => `${c.type} ${c.env['CNI_COMMAND']}`)).toEqual(['fake-a ADD', 'fake-b ADD']);
    const [a, b] = calls;
    expect(a!.stdin).toEqual({ type: 'fake-a', custom: 1, name: 'testnet', cniVersion: '1.0.0' });
    expect(a!.env).toEqual({
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: 'ctr1',
      CNI_NETNS: '/var/run/netns/fake',
      CNI_IFNAME: 'eth0',
      CNI_ARGS: 'K8S_POD_NAME=p1;IgnoreUnknown=true',
      CNI_PATH: `/nonexistent-bin:${bin.dir}`,
    });
    const prev = b!.stdin['prevResult'] as Record<string, unknown>;
    expect(prev['cniVersion']).toBe('1.0.0');
    expect((prev['interfaces'] as Array<{ name: string }>).map((i) => i.name)).toEqual(['fake-a:eth0']);
  });

  it('runs DEL in reverse order with the cached result, removes the cache entry, and DEL is idempotent', async () => {
    const l = list('1.0.0', [{ type: 'fake-a' }, { type: 'fake-b' }, { type: 'fake-c' }]);
    await runner.add(l, rt);
    expect(runner.cache.list()).toHaveLength(1);
    bin.reset();
    await runner.del(l, rt);
    const calls = bin.calls();
    expect(calls.map((c) => `${c.type} ${c.env['CNI_COMMAND']}`)).toEqual(['fake-c DEL', 'fake-b DEL', 'fake-a DEL']);
    for (const c of calls) {
      expect((c.stdin['prevResult'] as { interfaces: unknown[] }).interfaces).toHaveLength(3);
    }
    expect(runner.cache.list()).toHaveLength(0);
    bin.reset();
    await runner.del(l, rt);
    expect(bin.calls().map((c) => c.stdin['prevResult'])).toEqual([undefined, undefined, undefined]);
  });

  it('DEL after a restart takes the arguments from the cache', async () => {
    const l = list('1.0.0', [{ type: 'fake-a', capabilities: { portMappings: true } }]);
    const pm = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }];
    await runner.add(l, { ...rt, args: [['A', 'b']], capabilityArgs: { portMappings: pm } });
    bin.reset();
    const restarted = new CniRunner({ binDirs: [bin.dir], cacheDir });
    await restarted.del(l, rt);
    const [del] = bin.calls();
    expect(del!.env['CNI_ARGS']).toBe('A=b');
    expect(del!.stdin['runtimeConfig']).toEqual({ portMappings: pm });
    expect(del!.stdin['prevResult']).toBeDefined();
  });

  it('keeps the cache as libcni does: a cniCacheV1 envelope, 0600 in a 0700 folder', async () => {
    const l = list('0.4.0', [{ type: 'fake-a', capabilities: { mac: true } }]);
    await runner.add(l, { ...rt, args: [['X', 'y']], capabilityArgs: { mac: '02:00:00:00:00:01' } });
    const file = path.join(cacheDir, 'results', 'testnet-ctr1-eth0');
    expect(fs.statSync(path.join(cacheDir, 'results')).mode & 0o777).toBe(0o700);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(doc).toMatchObject({
      kind: 'cniCacheV1',
      containerId: 'ctr1',
      ifName: 'eth0',
      networkName: 'testnet',
      netns: '/var/run/netns/fake',
      cniArgs: [['X', 'y']],
      capabilityArgs: { mac: '02:00:00:00:00:01' },
    });
    expect(Buffer.from(doc.config, 'base64').equals(l.bytes)).toBe(true);
    // The result is stored in the network's version (0.4.0 results carry ip versions).
    expect(doc.result.cniVersion).toBe('0.4.0');
    expect(doc.result.ips[0].version).toBe('4');
    // Keys come from inside the file: a renamed file is still found by list(), with its real keys.
    fs.renameSync(file, path.join(cacheDir, 'results', 'garbage-name'));
    expect(runner.cache.list().map((a) => [a.networkName, a.containerId, a.ifName])).toEqual([['testnet', 'ctr1', 'eth0']]);
    expect(runner.cachedConfig(runner.cache.list()[0]!).name).toBe('testnet');
    // A file with other keys under the expected name is not taken for this attachment.
    fs.writeFileSync(file, JSON.stringify({ ...doc, containerId: 'other' }));
    expect(runner.cache.read('testnet', 'ctr1', 'eth0')).toBeUndefined();
  });

  it('injects capability arguments only into plugins that declare them', async () => {
    const l = list('1.0.0', [
      { type: 'fake-a', capabilities: { portMappings: true, bandwidth: false } },
      { type: 'fake-b', capabilities: { bandwidth: true } },
      { type: 'fake-c' },
    ]);
    const caps = { portMappings: [{ hostPort: 1, containerPort: 2 }], bandwidth: { ingressRate: 1 }, dns: { nameservers: ['10.0.0.1'] } };
    await runner.add(l, { ...rt, capabilityArgs: caps });
    const [a, b, c] = bin.calls();
    expect(a!.stdin['runtimeConfig']).toEqual({ portMappings: caps.portMappings });
    expect(b!.stdin['runtimeConfig']).toEqual({ bandwidth: caps.bandwidth });
    expect(c!.stdin['runtimeConfig']).toBeUndefined();
  });

  it('rejects bad runtime arguments before running anything, naming the field', async () => {
    const l = list('1.0.0', [{ type: 'fake-a' }]);
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ containerId: '-bad' }, /containerId: /],
      [{ ifName: 'much-too-long-name0' }, /ifName: .*longer than 15/],
      [{ ifName: 'a/b' }, /ifName: /],
      [{ netns: 'relative' }, /netns: must be an absolute path/],
      [{ args: [['K', 'a;b']] }, /args\/0\/1: /],
      [{ capabilityArgs: { portMappings: [{ hostPort: 0, containerPort: 80 }] } }, /capabilityArgs\/portMappings\/0\/hostPort: must be a port number/],
      [{ capabilityArgs: { mac: 'nope' } }, /capabilityArgs\/mac: must be a MAC address/],
    ];
    for (const [patch, re] of cases) {
      const err = await failure(runner.add(l, { ...rt, ...patch } as typeof rt));
      expect(isInvalidArgument(err)).toBe(true);
      expect(err.message).toMatch(re);
    }
    expect(bin.calls()).toHaveLength(0);
  });

  it('gates CHECK, the cached DEL result, STATUS and GC by cniVersion', async () => {
    const old = list('0.3.1', [{ type: 'fake-a' }]);
    const res = await runner.add(old, rt);
    expect(res.ips?.[0]).toEqual({ address: '10.1.0.2/24', gateway: '10.1.0.1', interface: 0 });
    bin.reset();
    const err = await failure(runner.check(old, rt));
    expect(isUnimplemented(err)).toBe(true);
    expect(err.message).toMatch(/0\.3\.1 does not support the CHECK command/);
    expect(await runner.status(old)).toEqual({ network: 'testnet', checked: false });
    expect(bin.calls()).toHaveLength(0);
    await runner.del(old, rt);
    expect(bin.calls()[0]!.stdin['prevResult']).toBeUndefined(); // cached prevResult on DEL needs 0.4.0

    const v04 = list('0.4.0', [{ type: 'fake-a' }]);
    await runner.add(v04, rt);
    bin.reset();
    await runner.check(v04, rt);
    const [check] = bin.calls();
    expect(check!.env['CNI_COMMAND']).toBe('CHECK');
    expect((check!.stdin['prevResult'] as { cniVersion: string }).cniVersion).toBe('0.4.0');
    await runner.del(v04, rt);
    // 1.0.0 networks get GC as DEL of stale attachments only, no GC command.
    const v10 = list('1.0.0', [{ type: 'fake-a' }]);
    await runner.add(v10, { ...rt, containerId: 'stale' });
    bin.reset();
    const out = await runner.gc(v10, []);
    expect(out).toEqual({ deleted: [{ containerId: 'stale', ifName: 'eth0' }], pluginsCollected: false });
    expect(bin.calls().map((c) => c.env['CNI_COMMAND'])).toEqual(['DEL']);
  });

  it('CHECK is skipped with disableCheck and needs a cached result', async () => {
    const l = list('1.0.0', [{ type: 'fake-a' }], { disableCheck: true });
    await runner.check(l, rt);
    expect(bin.calls()).toHaveLength(0);
    const l2 = list('1.0.0', [{ type: 'fake-a' }]);
    expect(isNotFound(await failure(runner.check(l2, rt)))).toBe(true);
  });

  it('STATUS (1.1.0) asks every plugin and maps code 50 to Unavailable', async () => {
    const l = list('1.1.0', [{ type: 'fake-a' }, { type: 'fake-b' }]);
    expect(await runner.status(l)).toEqual({ network: 'testnet', checked: true });
    const calls = bin.calls();
    expect(calls.map((c) => `${c.type} ${c.env['CNI_COMMAND']}`)).toEqual(['fake-a STATUS', 'fake-b STATUS']);
    expect(calls[0]!.stdin).toEqual({ type: 'fake-a', name: 'testnet', cniVersion: '1.1.0' });
    bin.behave('fake-b', { STATUS: { error: { code: 50, msg: 'not ready', details: 'no leases' } } });
    const err = await failure(runner.status(l));
    expect(isUnavailable(err)).toBe(true);
    expect(err.message).toBe('plugin type="fake-b" name="testnet" failed (status): CNI error 50: not ready: no leases');
    expect(err.details?.['cni']).toEqual({ code: 50, msg: 'not ready', details: 'no leases' });
  });

  it('GC (1.1.0) deletes stale cached attachments, then sends the valid list to every plugin', async () => {
    const l = list('1.1.0', [{ type: 'fake-a' }, { type: 'fake-b' }]);
    const other = list('1.1.0', [{ type: 'fake-a' }]);
    other.name = 'othernet';
    await runner.add(l, { ...rt, containerId: 'keep' });
    await runner.add(l, { ...rt, containerId: 'gone', args: [['P', 'q']] });
    await runner.add(other, { ...rt, containerId: 'gone' });
    bin.reset();
    const out = await runner.gc(l, [{ containerID: 'keep', ifname: 'eth0' }]);
    expect(out).toEqual({ deleted: [{ containerId: 'gone', ifName: 'eth0' }], pluginsCollected: true });
    const calls = bin.calls();
    expect(calls.map((c) => `${c.type} ${c.env['CNI_COMMAND']} ${c.env['CNI_CONTAINERID'] ?? ''}`)).toEqual([
      'fake-b DEL gone',
      'fake-a DEL gone',
      'fake-a GC ',
      'fake-b GC ',
    ]);
    expect(calls[0]!.env['CNI_ARGS']).toBe('P=q');
    expect(calls[0]!.env['CNI_NETNS']).toBe(''); // the cached namespace path does not exist any more
    expect(calls[2]!.stdin['cni.dev/valid-attachments']).toEqual([{ containerID: 'keep', ifname: 'eth0' }]);
    expect(runner.cache.list().map((a) => `${a.networkName}/${a.containerId}`)).toEqual(['othernet/gone', 'testnet/keep']);
    // disableGC: the runtime must not GC this network at all (no stale DEL, no GC command).
    bin.reset();
    const noGc = list('1.1.0', [{ type: 'fake-a' }], { disableGC: true });
    expect(await runner.gc(noGc, [])).toEqual({ deleted: [], pluginsCollected: false });
    expect(bin.calls()).toHaveLength(0);
  });

  it('GC collects plugin errors and still runs the rest', async () => {
    const l = list('1.1.0', [{ type: 'fake-a' }, { type: 'fake-b' }]);
    bin.behave('fake-a', { GC: { error: { code: 51, msg: 'cannot' } } });
    const err = await failure(runner.gc(l, []));
    expect(codeOf(err)).toBe('FailedPrecondition');
    expect(bin.calls().map((c) => c.type)).toEqual(['fake-a', 'fake-b']);
  });

  it('parses plugin errors into typed errors naming the plugin type and the network', async () => {
    const l = list('1.0.0', [{ type: 'fake-a' }, { type: 'fake-b' }]);
    bin.behave('fake-b', { ADD: { error: { code: 7, msg: 'bad config', details: 'subnet missing' } } });
    const err = await failure(runner.add(l, rt));
    expect(isInvalidArgument(err)).toBe(true);
    expect(err.message).toBe('plugin type="fake-b" name="testnet" failed (add): CNI error 7: bad config: subnet missing');
    expect(err.details).toMatchObject({ plugin: 'fake-b', network: 'testnet', command: 'ADD', cni: { code: 7 } });
    expect(runner.cache.list()).toHaveLength(0);
    bin.behave('fake-b', { ADD: { error: { code: 3, msg: 'who?' } } });
    expect(isNotFound(await failure(runner.add(l, rt)))).toBe(true);
    bin.behave('fake-b', { ADD: { error: { code: 11, msg: 'later' } } });
    expect(isUnavailable(await failure(runner.add(l, rt)))).toBe(true);
    bin.behave('fake-b', { ADD: { error: { code: 123, msg: 'plugin specific' } } });
    expect(isInternal(await failure(runner.add(l, rt)))).toBe(true);
  });

  it('gives clear errors for a plugin that hangs, crashes, prints garbage, answers wrongly or is missing', async () => {
    const l = list('1.0.0', [{ type: 'fake-a' }]);
    const quick = new CniRunner({ binDirs: [bin.dir], cacheDir, timeoutMs: 1500 });
    bin.behave('fake-a', { ADD: { hang: true } });
    let err = await failure(quick.add(l, rt));
    expect(isDeadlineExceeded(err)).toBe(true);
    expect(err.message).toBe('plugin type="fake-a" name="testnet" failed (add): no answer within 1500 ms (killed)');

    bin.behave('fake-a', { ADD: { crash: true } });
    err = await failure(runner.add(l, rt));
    expect(isInternal(err)).toBe(true);
    expect(err.message).toMatch(/^plugin type="fake-a" name="testnet" failed \(add\): killed by SIGSEGV/);

    bin.behave('fake-a', { ADD: { stdout: 'hello there' } });
    err = await failure(runner.add(l, rt));
    expect(err.message).toMatch(/^plugin type="fake-a" name="testnet" \(add\): printed a result that is not JSON: "hello there"/);

    bin.behave('fake-a', { ADD: { stdout: 'oops', exit: 2 } });
    err = await failure(runner.add(l, rt));
    expect(err.message).toBe('plugin type="fake-a" name="testnet" failed (add): exited with status 2; output is not a CNI error: "oops"');

    bin.behave('fake-a', { ADD: { result: { ips: [{ address: '10.0.0.300/24' }], routes: [{ gw: '1.2.3.4' }] } } });
    err = await failure(runner.add(l, rt));
    expect(isInternal(err)).toBe(true);
    expect(err.message).toMatch(/\/ips\/0\/address: "10\.0\.0\.300\/24" is not an address in CIDR notation; \/routes\/0\/dst: is required/);

    bin.behave('fake-a', { ADD: { stdout: JSON.stringify({ cniVersion: '0.4.0', ips: [] }) } });
    err = await failure(runner.add(l, rt));
    expect(err.message).toMatch(/\/cniVersion: is "0\.4\.0", but the plugin was called with "1\.0\.0"/);

    const missing = list('1.0.0', [{ type: 'no-such-plugin' }]);
    err = await failure(runner.add(missing, rt));
    expect(isNotFound(err)).toBe(true);
    expect(err.message).toBe(
      `plugin type="no-such-plugin" name="testnet" failed (add): plugin "no-such-plugin" not found in /nonexistent-bin:${bin.dir}`,
    );
    expect(runner.cache.list()).toHaveLength(0);
  });

  it('refuses a cache entry whose file name collides with another attachment', async () => {
    const a = parseConfList(JSON.stringify({ name: 'a-b', cniVersion: '1.0.0', plugins: [{ type: 'fake-a' }] }));
    const b = parseConfList(JSON.stringify({ name: 'a', cniVersion: '1.0.0', plugins: [{ type: 'fake-a' }] }));
    await runner.add(a, { ...rt, containerId: 'c' });
    const err = await failure(runner.add(b, { ...rt, containerId: 'b-c' }));
    expect(codeOf(err)).toBe('AlreadyExists');
    expect(runner.cache.list().map((x) => [x.networkName, x.containerId])).toEqual([['a-b', 'c']]);
    // DEL of the other attachment does not remove the entry it does not own.
    await runner.del(b, { ...rt, containerId: 'b-c' });
    expect(runner.cache.list()).toHaveLength(1);
  });

  it('says so when the plugin namespace cannot be entered', async () => {
    const l = list('1.0.0', [{ type: 'fake-a' }]);
    const inNs = new CniRunner({ binDirs: [bin.dir], cacheDir, pluginNetns: '/nonexistent/netns' });
    const err = await failure(inNs.add(l, rt));
    expect(isInternal(err)).toBe(true);
    expect(err.message).toMatch(/^plugin type="fake-a" name="testnet" failed \(add\): cannot enter plugin network namespace \/nonexistent\/netns: podkit-netns: open \/nonexistent\/netns: /);
    expect(bin.calls()).toHaveLength(0);
  });

  it('reports VERSION and validates a list against it', async () => {
    expect(await runner.version('fake-a')).toEqual({
      cniVersion: '1.1.0',
      supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
    const [call] = bin.calls();
    expect(call!.env).toEqual({ CNI_COMMAND: 'VERSION', CNI_PATH: `/nonexistent-bin:${bin.dir}` });
    bin.behave('fake-b', { supportedVersions: ['0.3.1', '0.4.0', '1.0.0'] });
    const l = list('1.1.0', [{ type: 'fake-a', capabilities: { portMappings: true } }, { type: 'fake-b' }]);
    const err = await failure(runner.validate(l));
    expect(isUnimplemented(err)).toBe(true);
    expect(err.message).toMatch(/fake-b.*does not support version 1\.1\.0/);
    expect(await runner.validate(list('1.0.0', [{ type: 'fake-a', capabilities: { portMappings: true } }, { type: 'fake-b' }]))).toEqual(['portMappings']);
  });
});
