/**
 * linux.sysctl in a real container: namespaced sysctls are written in the container's own network,
 * IPC and UTS namespaces and the host's values stay as they were. Needs root.
 */
import * as fs from 'node:fs';
import { describeAsRoot } from '../test-support/priv';
import { suiteEnv } from '../test-support/run';

const describeRoot = describeAsRoot('sysctl.priv.spec', 'namespaces, mounts, cgroups');

describeRoot('linux.sysctl (privileged)', () => {
  const env = suiteEnv();

  it('applies net.*, IPC and UTS sysctls in the container\'s namespaces only', async () => {
    const host = (k: string) => fs.readFileSync(`/proc/sys/${k.replace(/\./g, '/')}`, 'utf8');
    const keys = ['net.ipv4.ip_forward', 'kernel.shmmax', 'fs.mqueue.msg_max', 'kernel.domainname'];
    const before = keys.map(host);
    const r = await env.sh('cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/fs/mqueue/msg_max /proc/sys/kernel/domainname', (s) => {
      s.linux!.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '123456789', 'fs.mqueue.msg_max': '17', 'kernel.domainname': 'podkit.test' };
    });
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    expect(r.stdout).toBe('1\n123456789\n17\npodkit.test\n');
    expect(keys.map(host)).toEqual(before);
  });

  it('refuses a sysctl of a namespace the container shares with the host, before creating anything', async () => {
    const spec = env.spec(['true'], (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network');
      s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' };
    });
    await expect(env.run(spec)).rejects.toThrow(/\/linux\/sysctl\/net\.ipv4\.ip_forward: needs a private network namespace/);
  });
});
