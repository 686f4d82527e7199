/**
 * The cgroup v2 device program against the real kernel: this host is hybrid, and its cgroup2 mount
 * (which holds only hugetlb) has this process at its root, so a child cgroup can be made there.
 * The test never writes the root's control files: it makes `podkit-devtest-<pid>` beneath its own
 * cgroup, attaches the program, moves a shell into it (through the child's own cgroup.procs) and
 * removes the child afterwards.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isPermissionDenied } from '@podkit/errdefs';
import { UNIFIED_KEY, v2Backend } from './backend';
import { deviceFilterInsns, deviceRules, encodeInsns, OP } from './devicefilter';
import { hostLayout, realCgroupFs, replaceDeviceProgram, type UnifiedMount } from './v2';
import { bpfLoadDeviceProgram, bpfQueryDevicePrograms } from '../sys/native';

const root = process.getuid?.() === 0;
const layout = root ? hostLayout() : undefined;
const unified: UnifiedMount | undefined = layout && layout.mode !== 'v1' ? layout.unified : undefined;
const describeReal = unified ? describe : describe.skip;
if (!root) console.warn('devicefilter.priv.spec: skipped, needs root (bpf, cgroupfs)');
else if (!unified) console.warn('devicefilter.priv.spec: skipped, this host has no cgroup2 mount to attach a device program to');

/** Runs `script` in a shell that first moves itself into the cgroup `dir`. */
function inCgroup(dir: string, script: string): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync('/bin/sh', ['-c', `echo $$ > ${path.join(dir, 'cgroup.procs')} || exit 99\n${script}`], { encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describeReal('cgroup v2 device program (real kernel, cgroup2 mount)', () => {
  const u = unified as UnifiedMount;
  const own = path.join(u.mountpoint, u.own);
  const dir = path.join(own, `podkit-devtest-${process.pid}`);
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-devtest-'));
  });
  afterEach(() => {
    try {
      fs.rmdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('allows /dev/null and refuses /dev/zero and a denied mknod with EPERM; a replacement program takes over', () => {
    fs.mkdirSync(dir);
    // deny everything, then allow /dev/null: /dev/zero (1:5) is denied, as is mknod of it.
    replaceDeviceProgram(dir, encodeInsns(deviceFilterInsns(deviceRules([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }]))));
    expect(bpfQueryDevicePrograms(dir)).toHaveLength(1);
    const node = path.join(tmp, 'zero');
    const r = inCgroup(dir, `head -c1 /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null; echo "zero=$?"; mknod ${node} c 1 5; echo "mknod=$?"`);
    expect(r.stdout).toBe('null-ok\nzero=1\nmknod=1\n');
    expect(r.stderr).toMatch(/\/dev\/zero.*Operation not permitted/);
    expect(r.stderr).toMatch(/mknod.*Operation not permitted/);
    expect(fs.existsSync(node)).toBe(false);

    // A second program replaces the first (attached, then the old one detached): /dev/zero now works.
    replaceDeviceProgram(dir, encodeInsns(deviceFilterInsns(deviceRules([{ allow: true, type: 'c', major: 1, access: 'rw' }]))));
    expect(bpfQueryDevicePrograms(dir)).toHaveLength(1);
    const r2 = inCgroup(dir, 'head -c1 /dev/zero | od -An -tx1');
    expect(r2).toMatchObject({ stdout: ' 00\n', status: 0 });
  });

  it('goes through the v2 backend: create with device rules installs the program, remove deletes the cgroup', async () => {
    const b = v2Backend(u, realCgroupFs);
    const paths = b.paths(`podkit-devtest-${process.pid}`, 'x');
    expect(paths).toEqual({ [UNIFIED_KEY]: dir });
    // No controller is needed (devices on v2 are a bpf program), so nothing is enabled anywhere.
    b.create(paths, { devices: [{ allow: false, access: 'rwm' }] });
    expect(bpfQueryDevicePrograms(dir)).toHaveLength(1);
    // runc's defaults come after the config's deny-all: /dev/null and /dev/zero are usable, a block device is not.
    const r = inCgroup(dir, 'head -c1 /dev/zero | od -An -tx1; head -c1 /dev/vda >/dev/null; echo "vda=$?"');
    expect(r.stdout).toBe(' 00\nvda=1\n');
    expect(r.stderr).toMatch(/\/dev\/vda.*Operation not permitted/);
    await b.remove(paths);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('a program the verifier refuses fails with its errno and the verifier log', () => {
    // exit without setting r0: "R0 !read_ok".
    let err: unknown;
    try {
      bpfLoadDeviceProgram(encodeInsns([{ code: OP.EXIT, dst: 0, src: 0, off: 0, imm: 0 }]));
    } catch (e) {
      err = e;
    }
    expect(isPermissionDenied(err)).toBe(true);
    expect((err as Error).message).toMatch(/^load the cgroup device program: bpf: EACCES BPF_PROG_LOAD \(cgroup device program, 1 insns\); verifier: .*R0 !read_ok/s);
  });
});
