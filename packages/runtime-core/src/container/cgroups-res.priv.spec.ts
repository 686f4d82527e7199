/**
 * Cgroup resources of real containers (busybox bundle) on this host's cgroup v1: blkio throttles,
 * realtime cpu, kernel TCP memory are written into the container's own cgroups and read back from
 * there; what this host cannot apply is refused with its field path before anything is left behind;
 * `events --stats` gets its blkio numbers from the kernel's files. Needs root.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isInvalidArgument } from '@podkit/errdefs';
import type { LinuxResources } from '@podkit/oci-spec';
import { hostBackend } from '../cgroups/backend';
import { KERNEL_MEMORY_WARNING } from '../cgroups/v1';
import { hostResctrlRoot } from '../intelrdt/resctrl';
import { rejectionOf } from '../test-support/errors';
import { describeAsRoot, waitUntil } from '../test-support/priv';
import { suiteEnv } from '../test-support/run';

const describeV1 = describeAsRoot('cgroups-res.priv.spec', 'namespaces, mounts, cgroups', () =>
  hostBackend().backend.version === 1 ? undefined : 'this host runs cgroup v2 (these tests check the v1 files)',
);

/** The whole disk (major, minor) that holds `dir`: blk-throttle takes disks, not partitions. */
function diskOf(dir: string): { major: number; minor: number } {
  const dev = fs.statSync(dir).dev;
  let sys = fs.realpathSync(`/sys/dev/block/${Math.floor(dev / 256) & 0xfff}:${(dev & 0xff) | ((dev >> 12) & 0xfff00)}`);
  if (fs.existsSync(path.join(sys, 'partition'))) sys = path.dirname(sys);
  const [major, minor] = fs.readFileSync(path.join(sys, 'dev'), 'utf8').trim().split(':').map(Number);
  return { major: major as number, minor: minor as number };
}

describeV1('cgroup resources of real containers (cgroup v1)', () => {
  const env = suiteEnv();

  const read = (dir: string | undefined, file: string) => fs.readFileSync(path.join(dir as string, file), 'utf8').trim();

  it('writes blkio throttles, realtime cpu, cfs burst/idle and kernel TCP memory into the container cgroups; stats carry blkio', async () => {
    const { major, minor } = diskOf(env.bundle.dir);
    const dev = `${major}:${minor}`;
    const resources: LinuxResources = {
      blockIO: {
        throttleReadBpsDevice: [{ major, minor, rate: 200 << 20 }],
        throttleWriteBpsDevice: [{ major, minor, rate: 100 << 20 }],
        throttleReadIOPSDevice: [{ major, minor, rate: 20000 }],
        throttleWriteIOPSDevice: [{ major, minor, rate: 10000 }],
      },
      cpu: { realtimePeriod: 100000, realtimeRuntime: 10000, quota: 50000, period: 100000, burst: 1000, idle: 1 },
      memory: { kernelTCP: 16 << 20, kernel: 64 << 20 },
    };
    const spec = env.spec(['sh', '-c', 'dd if=/dev/zero of=/tmp/f bs=64k count=16 oflag=direct 2>/dev/null && touch /tmp/done; exec sleep 1000'], (s) => {
      s.linux!.resources = resources;
    });
    const id = env.nextId('res');
    const created = await env.create(spec, id);
    expect(created.warnings).toContain(KERNEL_MEMORY_WARNING);
    const p = env.runtime.store.load(id).cgroupPaths;
    expect(read(p['blkio'], 'blkio.throttle.read_bps_device')).toBe(`${dev} ${200 << 20}`);
    expect(read(p['blkio'], 'blkio.throttle.write_bps_device')).toBe(`${dev} ${100 << 20}`);
    expect(read(p['blkio'], 'blkio.throttle.read_iops_device')).toBe(`${dev} 20000`);
    expect(read(p['blkio'], 'blkio.throttle.write_iops_device')).toBe(`${dev} 10000`);
    expect(read(p['cpu'], 'cpu.rt_period_us')).toBe('100000');
    expect(read(p['cpu'], 'cpu.rt_runtime_us')).toBe('10000');
    expect([read(p['cpu'], 'cpu.cfs_quota_us'), read(p['cpu'], 'cpu.cfs_burst_us'), read(p['cpu'], 'cpu.idle')]).toEqual(['50000', '1000', '1']);
    expect(read(p['memory'], 'memory.kmem.tcp.limit_in_bytes')).toBe(String(16 << 20));
    // memory.kernel is ignored (with the warning above), as runc does.
    expect(Number(read(p['memory'], 'memory.kmem.limit_in_bytes'))).toBeGreaterThan(64 << 20);

    await env.runtime.start(id);
    await waitUntil(() => fs.existsSync(path.join(env.bundle.rootfs, 'tmp', 'done')), 'the direct writes');
    // The direct writes went through blk-throttle of the container's cgroup: runc's stats shape.
    const st = env.runtime.stats(id) as { blkio: { ioServiceBytesRecursive?: { major: number; minor?: number; op: string; value: number }[] } };
    const written = st.blkio.ioServiceBytesRecursive?.find((e) => e.major === major && (e.minor ?? 0) === minor && e.op === 'Write');
    expect(written?.value).toBeGreaterThanOrEqual(1 << 20);
    expect(read(p['blkio'], 'blkio.throttle.io_service_bytes_recursive')).toContain(`${dev} Write ${written?.value}`);

    // update: a period below the current runtime is refused by the kernel (EINVAL) until the new
    // runtime is written; podrun retries it after, as runc does.
    env.runtime.update(id, { cpu: { realtimePeriod: 5000, realtimeRuntime: 2000 } });
    expect([read(p['cpu'], 'cpu.rt_period_us'), read(p['cpu'], 'cpu.rt_runtime_us')]).toEqual(['5000', '2000']);

    await env.runtime.kill(id, 'KILL');
    await env.runtime.wait(id);
    await env.runtime.delete(id);
    for (const dir of Object.values(p)) expect(fs.existsSync(dir)).toBe(false);
  });

  it('devices: the config rules then runc\'s defaults are written to devices.allow/deny; a denied device gives EPERM inside', async () => {
    const r = await env.sh('head -c1 /dev/null && echo null-ok; mknod /tmp/kmsg c 1 11 && echo mknod-ok; head -c1 /tmp/kmsg; echo "kmsg=$?"; cat /sys/fs/cgroup/devices/devices.list', (s) => {
      s.linux!.resources = { devices: [{ allow: false, access: 'rwm' }] };
      for (const set of ['bounding', 'effective', 'permitted'] as const) s.process!.capabilities![set] = [...(s.process!.capabilities![set] ?? []), 'CAP_MKNOD'];
      s.mounts!.push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] });
      s.linux!.namespaces!.push({ type: 'cgroup' });
    });
    expect(r.stdout.split('\n').slice(0, 3)).toEqual(['null-ok', 'mknod-ok', 'kmsg=1']);
    expect(r.stderr).toMatch(/kmsg.*Operation not permitted/);
    // The whitelist the kernel shows: runc's defaults, nothing else.
    expect(r.stdout.split('\n').slice(3).filter(Boolean).sort()).toEqual(['b *:* m', 'c *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 10:200 rwm', 'c 136:* rwm', 'c 5:0 rwm', 'c 5:2 rwm'].sort());
  });

  it('a realtime runtime beyond the parent budget fails with the field, the reason and no cgroup left', async () => {
    const parentDir = path.dirname(hostBackend().backend.paths('x', 'x')['cpu'] as string);
    const budget = Number(read(parentDir, 'cpu.rt_runtime_us'));
    const spec = env.spec(['true'], (s) => {
      s.linux!.resources = { cpu: { realtimePeriod: 1000000, realtimeRuntime: Math.min(budget + 10000, 1000000) } };
    });
    const id = env.nextId('rt');
    const err = await rejectionOf(env.create(spec, id));
    expect(isInvalidArgument(err)).toBe(true);
    expect(err.message).toMatch(/^\/linux\/resources\/cpu\/realtimeRuntime: writing "\d+" to .*cpu\.rt_runtime_us failed: EINVAL: a cgroup's realtime runtime must fit in its period and in what its parent \(.* rt_runtime_us \d+ per rt_period_us \d+\) has not given to other children/);
    expect(env.runtime.list().map((c) => c.id)).not.toContain(id);
    expect(fs.existsSync(path.join(parentDir, spec.linux!.cgroupsPath as string))).toBe(false);
  });

  it('refuses what this host lacks, naming the field, before creating anything', async () => {
    const { layout } = hostBackend();
    const mounted = layout.mode === 'v2' ? [] : layout.v1.flatMap((h) => h.controllers);
    const cases: Array<[LinuxResources, RegExp, boolean]> = [
      [{ network: { classID: 0x100001 } }, /^\/linux\/resources\/network\/classID: the net_cls controller is not mounted here/, !mounted.includes('net_cls')],
      [{ network: { priorities: [{ name: 'lo', priority: 1 }] } }, /^\/linux\/resources\/network\/priorities\/0: the net_prio controller is not mounted here/, !mounted.includes('net_prio')],
      [{ rdma: { mlx5_0: { hcaHandles: 2 } } }, /^\/linux\/resources\/rdma\/mlx5_0: the rdma controller is not mounted here/, !mounted.includes('rdma')],
      [{ unified: { 'memory.high': '1' } }, /^\/linux\/resources\/unified: cgroup v2 settings cannot be applied/, true],
    ];
    for (const [resources, re, expected] of cases) {
      if (!expected) {
        console.warn(`cgroups-res.priv.spec: ${re.source} not checked: the controller is mounted on this host`);
        continue;
      }
      const id = env.nextId('no');
      const err = await rejectionOf(env.create(env.spec(['true'], (s) => void (s.linux!.resources = resources)), id));
      expect(isInvalidArgument(err)).toBe(true);
      expect(err.message).toMatch(re);
      expect(env.runtime.list().map((c) => c.id)).not.toContain(id);
    }
  });

  it('intelRdt: refused naming /linux/intelRdt where resctrl is not mounted', async () => {
    if (hostResctrlRoot() !== undefined) {
      console.warn('cgroups-res.priv.spec: resctrl is mounted here; the "not mounted" refusal is covered on the fake tree only');
      return;
    }
    const id = env.nextId('rdt');
    const err = await rejectionOf(env.create(env.spec(['true'], (s) => void (s.linux!.intelRdt = { closID: 'guaranteed', l3CacheSchema: 'L3:0=7f0' })), id));
    expect(isInvalidArgument(err)).toBe(true);
    expect(err.message).toMatch(/\/linux\/intelRdt: resctrl is not mounted/);
    expect(env.runtime.list().map((c) => c.id)).not.toContain(id);
  });

  it('blkio weights: the BFQ weight file is written; a per-device weight for a disk not using BFQ names its field', async () => {
    const { major, minor } = diskOf(env.bundle.dir);
    const c = await env.create(env.spec(['true'], (s) => void (s.linux!.resources = { blockIO: { weight: 500 } })));
    const p = env.runtime.store.load(c.id).cgroupPaths;
    // CFQ is gone (5.0); BFQ's files are in every non-root cgroup while the bfq module is loaded.
    const file = fs.existsSync(path.join(p['blkio'] as string, 'blkio.weight')) ? 'blkio.weight' : 'blkio.bfq.weight';
    expect(read(p['blkio'], file)).toMatch(/(^|default )500$/);
    await env.runtime.delete(c.id, { force: true });

    const scheduler = fs.readFileSync(`/sys/dev/block/${major}:${minor}/queue/scheduler`, 'utf8');
    if (scheduler.includes('[bfq]') || file === 'blkio.weight') {
      console.warn('cgroups-res.priv.spec: the disk uses BFQ (or CFQ files exist); the per-device refusal is covered on the fake tree only');
      return;
    }
    const spec = env.spec(['true'], (s) => void (s.linux!.resources = { blockIO: { weightDevice: [{ major, minor, weight: 400 }] } }));
    const id = env.nextId('w');
    const err = await rejectionOf(env.create(spec, id));
    expect(err.message).toMatch(
      new RegExp(`^/linux/resources/blockIO/weightDevice/0/weight: writing "${major}:${minor} 400" to .*blkio.bfq.weight_device failed: (EOPNOTSUPP|ENOTSUP): the device does not use the BFQ I/O scheduler`),
    );
    expect(env.runtime.list().map((x) => x.id)).not.toContain(id);
    expect(fs.existsSync(path.join(path.dirname(p['blkio'] as string), spec.linux!.cgroupsPath as string))).toBe(false);
  });
});
