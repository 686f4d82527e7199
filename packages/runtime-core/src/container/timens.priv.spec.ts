/**
 * The time namespace (clock offsets written before the container's first process enters it) and
 * personality(2), checked from inside a busybox container. Needs root.
 */
import * as fs from 'node:fs';
import { describeAsRoot, waitUntil } from '../test-support/priv';
import { suiteEnv } from '../test-support/run';

const describeRoot = describeAsRoot('timens.priv.spec', 'namespaces, mounts, cgroups');

const DAY = 86400;
const uptime = (text: string) => Number(text.trim().split(/\s+/)[0]);

describeRoot('time namespace and personality (privileged)', () => {
  const env = suiteEnv();

  it('offsets boottime and monotonic in a new time namespace; exec joins it', async () => {
    const before = uptime(fs.readFileSync('/proc/uptime', 'utf8'));
    const c = await env.create(
      env.spec(['sh', '-c', 'cat /proc/uptime; cat /proc/self/timens_offsets; readlink /proc/self/ns/time; sleep 1000'], (s) => {
        s.linux!.namespaces!.push({ type: 'time' });
        s.linux!.timeOffsets = { boottime: { secs: 10 * DAY }, monotonic: { secs: 3 * DAY, nanosecs: 500 } };
      }),
    );
    await env.runtime.start(c.id);
    const pid = env.runtime.state(c.id).pid;
    // Wait (with a deadline) for the script's first lines.
    let out = '';
    await waitUntil(
      () => (out = c.output().stdout).split('\n').length >= 5,
      () => `the first lines; output so far: ${out}`,
    );
    const after = uptime(fs.readFileSync('/proc/uptime', 'utf8'));
    const lines = out.split('\n');
    // busybox reads /proc/uptime, which shows CLOCK_BOOTTIME of the reader's time namespace.
    expect(uptime(lines[0] ?? '')).toBeGreaterThanOrEqual(before + 10 * DAY);
    expect(uptime(lines[0] ?? '')).toBeLessThanOrEqual(after + 10 * DAY);
    expect(lines.slice(1, 3).map((l) => l.trim().replace(/\s+/g, ' '))).toEqual([`monotonic ${3 * DAY} 500`, `boottime ${10 * DAY} 0`]);
    expect(lines[3]).toBe(fs.readlinkSync(`/proc/${pid}/ns/time`));
    expect(lines[3]).not.toBe(fs.readlinkSync('/proc/self/ns/time'));

    const exec = await env.exec(c.id, { args: ['sh', '-c', 'readlink /proc/self/ns/time; cat /proc/uptime'] });
    expect(exec).toMatchObject({ exitCode: 0 });
    const ex = exec.stdout.split('\n');
    expect(ex[0]).toBe(lines[3]);
    expect(uptime(ex[1] ?? '')).toBeGreaterThanOrEqual(before + 10 * DAY);
    await env.runtime.delete(c.id, { force: true });
  });

  it('creates a time namespace without offsets', async () => {
    const r = await env.sh('readlink /proc/self/ns/time; cat /proc/self/timens_offsets', (s) => {
      s.linux!.namespaces!.push({ type: 'time' });
    });
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n');
    expect(lines[0]).not.toBe(fs.readlinkSync('/proc/self/ns/time'));
    expect(lines.slice(1, 3).map((l) => l.trim().replace(/\s+/g, ' '))).toEqual(['monotonic 0 0', 'boottime 0 0']);
  });

  it('sets the personality: LINUX32 makes uname -m report i686 on x86_64', async () => {
    if (process.arch !== 'x64') {
      console.warn('timens.priv.spec: the LINUX32 check needs an x86_64 host');
      return;
    }
    const r = await env.sh('uname -m', (s) => {
      s.linux!.personality = { domain: 'LINUX32' };
    });
    expect(r.stdout.split('\n')[0]).toBe('i686');
    const plain = await env.sh('uname -m');
    expect(plain.stdout).toBe('x86_64\n');
    const flags = await env.sh('cat /proc/self/personality', (s) => {
      s.linux!.personality = { domain: 'LINUX', flags: ['ADDR_NO_RANDOMIZE'] };
    });
    // /proc/<pid>/personality is readable by the process itself: 0x0040000.
    expect(flags.stdout.trim()).toBe('00040000');
  });

  it('gives exec processes the container\'s personality too, as runc does', async () => {
    if (process.arch !== 'x64') {
      console.warn('timens.priv.spec: the LINUX32 check needs an x86_64 host');
      return;
    }
    const c = await env.create(env.spec(['sleep', '1000'], (s) => void (s.linux!.personality = { domain: 'LINUX32' })));
    await env.runtime.start(c.id);
    try {
      expect(await env.exec(c.id, { args: ['uname', '-m'] })).toMatchObject({ exitCode: 0, stdout: 'i686\n' });
    } finally {
      await env.runtime.delete(c.id, { force: true });
    }
  });
});
