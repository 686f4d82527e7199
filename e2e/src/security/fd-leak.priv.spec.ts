/**
 * runc CVE-2024-21626 (GHSA-xr7r-f8xq-vfvv, "Leaky Vessels"): a file descriptor of the runtime that
 * names a host directory is still open when the runtime chdir()s to `process.cwd`; a cwd of
 * `/proc/self/fd/N` then lands the container process on the host filesystem (and `../..` walks up
 * to the host's root). The same through `exec --cwd`.
 *
 * What podkit promises: every fd the runtime opens is close-on-exec, every fd above 2 is closed at
 * execve, and a cwd cannot leave the root. Shown here: the fds a container process sees are exactly
 * 0-2 (what the config allows: podrun has no --preserve-fds yet), and for every N a cwd of
 * /proc/self/fd/N either is refused or leaves the process inside the container's root.
 */
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ready, ROOTFS_TOP, SecEnv, type Outcome } from './harness';

const maybe = ready ? it : it.skip;
if (!ready) console.warn('security e2e: skipped (needs root and /bin/busybox)');

const PODRUN = path.resolve(__dirname, '../../../packages/runtime-core/bin/podrun');
const podrunBuilt = fs.existsSync(path.resolve(PODRUN, '../../dist/cli/podrun.js'));

/** `ls -l /proc/self/fd` of ls itself → fd number → link target, without ls's own directory fd. */
function fdsOf(listing: string): Record<string, string> {
  const fds: Record<string, string> = {};
  for (const line of listing.split('\n')) {
    const m = /\s(\d+) -> (.*)$/.exec(line);
    if (m && !m[2]!.startsWith('/proc/')) fds[m[1]!] = m[2]!;
  }
  return fds;
}

/** The script a container process runs from a suspicious cwd: where am I, and what is at `../../..`. */
const PROBE = 'echo "cwd=$(pwd -P)"; cd ../../../../../../../..; echo "top=$(ls -A | tr "\\n" " ")"';

/** True when the outcome shows the process stayed in the container (or never ran). */
function stayedInside(o: Outcome): boolean {
  if (o.error) return true;
  const top = /top=(.*)/.exec(o.result?.stdout ?? '')?.[1]?.trim().split(' ') ?? [];
  return top.length === 0 || top.every((e) => [...ROOTFS_TOP, 'secret-marker'].includes(e));
}

describe('CVE-2024-21626 class: leaked fds and cwd /proc/self/fd/N', () => {
  let env: SecEnv;
  beforeAll(() => {
    if (ready) env = new SecEnv('fd');
  });
  afterAll(async () => {
    if (env) await env.cleanup();
  });

  maybe('a container process (create path) sees only fds 0-2', async () => {
    const o = await env.run(env.bundle('fds-create', ['ls', '-l', '/proc/self/fd']));
    expect(o.error).toBeUndefined();
    expect(Object.keys(fdsOf(o.result!.stdout)).sort()).toEqual(['0', '1', '2']);
  });

  maybe('an exec process sees only fds 0-2', async () => {
    const id = await env.create(env.bundle('fds-exec', ['sleep', '1000']));
    await env.runtime.start(id);
    const o = await env.exec(id, ['ls', '-l', '/proc/self/fd']);
    await env.remove(id);
    expect(o.error).toBeUndefined();
    expect(Object.keys(fdsOf(o.result!.stdout)).sort()).toEqual(['0', '1', '2']);
  });

  (podrunBuilt ? maybe : it.skip)('through the podrun CLI too: the PID 1 of a container sees only fds 0-2', () => {
    // sh is PID 1: list its fds (ls's own directory fd is not among them).
    const bundle = env.bundle('fds-cli', ['sh', '-c', 'ls -l /proc/1/fd; exit 0']);
    const state = path.join(env.work, 'cli-state');
    const id = env.id();
    const r = spawnSync(PODRUN, ['--root', state, 'run', id], { cwd: bundle, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
    spawnSync(PODRUN, ['--root', state, 'delete', '--force', id], { stdio: 'ignore' });
    expect(r.status).toBe(0);
    expect(Object.keys(fdsOf(r.stdout)).sort()).toEqual(['0', '1', '2']);
  });

  maybe('process.cwd = /proc/self/fd/N (N = 3..24) never starts a process outside the root', async () => {
    const failures: string[] = [];
    for (let n = 3; n <= 24; n++) {
      const o = await env.run(
        env.bundle(`cwd-${n}`, ['sh', '-c', PROBE], (s) => {
          s.process!.cwd = `/proc/self/fd/${n}`;
        }),
      );
      if (!stayedInside(o)) failures.push(`fd ${n}: ${o.result?.stdout}`);
      fs.rmSync(path.join(env.work, `cwd-${n}`), { recursive: true, force: true });
    }
    expect(failures).toEqual([]);
  });

  maybe('exec with cwd /proc/self/fd/N (N = 3..24) never starts a process outside the root', async () => {
    const id = await env.create(env.bundle('cwd-exec', ['sleep', '1000']));
    await env.runtime.start(id);
    const failures: string[] = [];
    for (let n = 3; n <= 24; n++) {
      const o = await env.exec(id, ['sh', '-c', PROBE], { cwd: `/proc/self/fd/${n}` });
      if (!stayedInside(o)) failures.push(`fd ${n}: ${o.result?.stdout}`);
    }
    await env.remove(id);
    expect(failures).toEqual([]);
  });

  maybe('the probe itself detects an escape (control: cwd / in the container lists the container root)', async () => {
    const o = await env.run(env.bundle('cwd-control', ['sh', '-c', PROBE]));
    expect(o.result?.stdout).toMatch(/^cwd=\/\ntop=/);
    expect(stayedInside(o)).toBe(true);
    expect(stayedInside({ result: { exitCode: 0, signal: null, reaped: true, stdout: 'top=usr var work\n', stderr: '' } })).toBe(false);
  });
});
