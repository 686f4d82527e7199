/**
 * User namespaces against the real kernel, checked from inside a busybox container: the maps the
 * runtime wrote, the ids inside and as the host sees them, setgroups, capabilities that work only in
 * the namespace, device nodes bound from the host, joining the namespace by path and by exec. Needs root.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isInvalidArgument } from '@podkit/errdefs';
import type { Spec } from '@podkit/oci-spec';
import { rejectionOf } from '../test-support/errors';
import { describeAsRoot, waitUntil } from '../test-support/priv';
import { suiteEnv } from '../test-support/run';
import { shareBundleWithUserns, USERNS_HOST_ID as HOST_ID, USERNS_MAP as MAP, withUserns } from '../test-support/userns';
import { writeIdMaps } from './init-driver';

const describeRoot = describeAsRoot('userns.priv.spec', 'user namespaces, mounts, cgroups');

function nsInode(pid: number, type: string): string {
  return fs.readlinkSync(`/proc/${pid}/ns/${type}`);
}

describeRoot('user namespaces (privileged)', () => {
  const env = suiteEnv();
  beforeAll(() => {
    // The container's root is host uid 100000: it must be able to reach the rootfs (as with runc).
    shareBundleWithUserns(env.bundle);
  });

  it('runs as root of a new user namespace with the maps, setgroups and capabilities asked for', async () => {
    const script = [
      'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups',
      'id -u; id -g',
      'grep CapEff /proc/self/status',
      // CAP_SYS_ADMIN and CAP_CHOWN of the namespace: a mount and a chown inside work.
      'mkdir -p /mnt/t && mount -t tmpfs t /mnt/t && echo mounted',
      'touch /tmp/made-inside && chown 7:8 /tmp/made-inside && echo chowned',
      // Device nodes are bound from the host (mknod is refused in a user namespace).
      'stat -c "%t:%T %F" /dev/null; echo x > /dev/null && echo null-ok',
    ].join('; ');
    const r = await env.sh(script, (s) => {
      withUserns(s);
      const caps = ['CAP_SYS_ADMIN', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER'];
      s.process!.capabilities = { bounding: caps, effective: caps, permitted: caps };
    });
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
    expect(lines.slice(0, 3)).toEqual([`0 ${HOST_ID} 65536`, `0 ${HOST_ID} 65536`, 'allow']);
    expect(lines.slice(3, 5)).toEqual(['0', '0']);
    // CHOWN=0, DAC_OVERRIDE=1, FOWNER=3, SYS_ADMIN=21.
    expect(lines[5]).toBe('CapEff: 000000000020000b');
    expect(lines.slice(6, 10)).toEqual(['mounted', 'chowned', '1:3 character special file', 'null-ok']);
    // The host sees the mapped ids.
    const st = fs.statSync(path.join(env.bundle.rootfs, 'tmp', 'made-inside'));
    expect([st.uid, st.gid]).toEqual([HOST_ID + 7, HOST_ID + 8]);
  });

  it('is the mapped host uid seen from the host, joined by a second container and by exec', async () => {
    const a = await env.create(env.spec(['sleep', '1000'], withUserns));
    await env.runtime.start(a.id);
    const apid = env.runtime.state(a.id).pid;
    const status = fs.readFileSync(`/proc/${apid}/status`, 'utf8');
    expect(status).toMatch(new RegExp(`^Uid:\\t${HOST_ID}\\t${HOST_ID}\\t${HOST_ID}\\t${HOST_ID}$`, 'm'));
    expect(nsInode(apid, 'user')).not.toBe(fs.readlinkSync('/proc/self/ns/user'));

    // A second container joins it by path (its other namespaces are new, owned by that namespace).
    const b = await env.sh('readlink /proc/self/ns/user; id -u; cat /proc/self/uid_map', (s) => {
      s.linux!.namespaces!.push({ type: 'user', path: `/proc/${apid}/ns/user` });
      s.linux!.uidMappings = MAP;
      s.linux!.gidMappings = MAP;
    });
    expect(b.stderr).toBe('');
    expect(b.stdout.split('\n').map((l) => l.trim().replace(/\s+/g, ' '))).toEqual([nsInode(apid, 'user'), '0', `0 ${HOST_ID} 65536`, '']);

    // Maps that differ from the joined namespace's are refused, naming the field.
    await expect(
      env.sh('true', (s) => {
        s.linux!.namespaces!.push({ type: 'user', path: `/proc/${apid}/ns/user` });
        s.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
        s.linux!.gidMappings = MAP;
      }),
    ).rejects.toThrow(/\/linux\/uidMappings do not match the maps of the user namespace joined by path/);

    // exec joins the container's user namespace (and becomes its root).
    const ex = await env.exec(a.id, { args: ['sh', '-c', 'readlink /proc/self/ns/user; id -u; grep CapEff /proc/self/status'] });
    expect(ex).toMatchObject({ exitCode: 0 });
    const lines = ex.stdout.split('\n');
    // The config's capabilities (AUDIT_WRITE, KILL, NET_BIND_SERVICE), held in the namespace.
    expect(lines.slice(0, 3)).toEqual([nsInode(apid, 'user'), '0', 'CapEff:\t0000000020000420']);
    await env.runtime.delete(a.id, { force: true });
  });

  it('combines a user namespace with a time namespace, hostname, sysctl and a read-only rootfs', async () => {
    const r = await env.sh('id -u; cat /proc/self/timens_offsets | grep boottime; hostname; cat /proc/sys/net/ipv4/ip_forward; touch /x 2>/dev/null || echo rootfs-readonly', (s) => {
      withUserns(s);
      s.linux!.namespaces!.push({ type: 'time' });
      s.linux!.timeOffsets = { boottime: { secs: 3600 } };
      s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' };
      s.hostname = 'in-userns';
      s.root!.readonly = true;
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').map((l) => l.trim().replace(/\s+/g, ' '))).toEqual(['0', 'boottime 3600 0', 'in-userns', '1', 'rootfs-readonly', '']);
  });

  it('switches to a non-root user of the namespace with its supplementary groups', async () => {
    const r = await env.sh('id -u; id -G; grep -E "^(Uid|Gid|Groups):" /proc/self/status', (s) => {
      withUserns(s);
      s.process!.user = { uid: 1000, gid: 1001, additionalGids: [5, 7] };
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').map((l) => l.trim().replace(/\s+/g, ' '))).toEqual(['1000', '1001 5 7', 'Uid: 1000 1000 1000 1000', 'Gid: 1001 1001 1001 1001', 'Groups: 5 7', '']);
  });

  it('binds the host /sys when sysfs is refused (no network namespace of its own)', async () => {
    const r = await env.sh('grep " /sys " /proc/mounts | cut -d" " -f3; grep -c " /sys/fs/cgroup " /proc/mounts; ls /sys/class/net | grep -c lo', (s) => {
      withUserns(s);
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network');
    });
    expect(r.stderr).toBe('');
    // The host's /sys came with its own /sys/fs/cgroup tmpfs (rbind), under the container's.
    expect(r.stdout).toBe('sysfs\n2\n1\n');
  });

  it('says so when the container root cannot reach the rootfs', async () => {
    fs.chmodSync(env.bundle.dir, 0o700);
    try {
      await expect(env.sh('true', withUserns)).rejects.toThrow(/is not reachable by the root of the container's user namespace/);
    } finally {
      fs.chmodSync(env.bundle.dir, 0o711);
    }
  });

  it('writes setgroups "deny" before gid_map when told to (a runtime without CAP_SETGID), and names the field of a refused map', async () => {
    // A process in a fresh user namespace without maps, as podkit-init's child is at the sync point.
    const child = spawn('unshare', ['--user', 'sleep', '1000'], { stdio: 'ignore' });
    try {
      const pid = child.pid as number;
      await waitUntil(() => fs.readlinkSync(`/proc/${pid}/ns/user`) !== fs.readlinkSync('/proc/self/ns/user') && fs.readFileSync(`/proc/${pid}/comm`, 'utf8') === 'sleep\n', 'unshare to start');
      writeIdMaps(pid, { uidMappings: MAP, gidMappings: MAP, setgroups: 'deny' });
      expect(fs.readFileSync(`/proc/${pid}/setgroups`, 'utf8')).toBe('deny\n');
      expect(fs.readFileSync(`/proc/${pid}/gid_map`, 'utf8').trim().split(/\s+/)).toEqual(['0', String(HOST_ID), '65536']);
      // Maps can be written once: a second write is refused, and the error names the field.
      expect(() => writeIdMaps(pid, { uidMappings: MAP, gidMappings: MAP, setgroups: 'allow' })).toThrow(/\/linux\/uidMappings: writing \/proc\/\d+\/uid_map/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses maps without a user namespace and a new user namespace without maps, by path', async () => {
    const bad = async (mutate: (s: Spec) => void) => {
      const err = await rejectionOf(env.sh('true', mutate));
      expect(isInvalidArgument(err)).toBe(true);
      return err.message;
    };
    expect(await bad((s) => (s.linux!.uidMappings = MAP))).toMatch(/\/linux\/uidMappings: (needs|requires) a user namespace/);
    expect(await bad((s) => s.linux!.namespaces!.push({ type: 'user' }))).toMatch(/\/linux\/uidMappings: a new user namespace .* needs uid mappings/);
  });
});
