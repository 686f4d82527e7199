/**
 * Seccomp in podkit-init against the real kernel: busybox in the container meets the filter. Needs
 * root (namespaces, mounts, cgroups).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LinuxSeccomp } from '@podkit/oci-spec';
import { DOCKER_ALLOWED, dockerLikeProfile } from '../test-support/seccomp';
import { TestEnv } from '../test-support/run';

const root = process.getuid?.() === 0;
const describeRoot = root ? describe : describe.skip;
if (!root) console.warn('seccomp.priv.spec: skipped, needs root (namespaces, mounts, cgroups)');

const denyMkdir = (errnoRet?: number): LinuxSeccomp => ({
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', ...(errnoRet !== undefined ? { errnoRet } : {}) }],
});

describeRoot('seccomp (privileged)', () => {
  let env: TestEnv;
  beforeAll(() => {
    env = new TestEnv();
  });
  afterAll(async () => {
    await env.cleanup();
  });

  it.each([true, false])('makes mkdir fail with EPERM (noNewPrivileges %s), other syscalls unaffected', async (nnp) => {
    const r = await env.sh('mkdir /tmp/x; echo rc=$?; touch /tmp/f && echo touched', (s) => {
      s.process!.noNewPrivileges = nnp;
      s.linux!.seccomp = denyMkdir();
    });
    expect(r.stderr).toMatch(/mkdir: can't create directory '\/tmp\/x': Operation not permitted/);
    expect(r.stdout).toBe('rc=1\ntouched\n');
    expect(r.exitCode).toBe(0);
  });

  it('returns a rule errnoRet', async () => {
    const r = await env.sh('mkdir /tmp/x', (s) => (s.linux!.seccomp = denyMkdir(28)));
    expect(r.stderr).toMatch(/No space left on device/);
    expect(r.exitCode).toBe(1);
  });

  it('kills with SIGSYS on a syscall outside the allow list of a default-kill profile', async () => {
    const profile: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_KILL',
      syscalls: [{ names: DOCKER_ALLOWED.filter((n) => n !== 'mkdir' && n !== 'mkdirat'), action: 'SCMP_ACT_ALLOW' }],
    };
    const ok = await env.run(env.spec(['echo', 'allowed'], (s) => (s.linux!.seccomp = profile)));
    expect(ok).toMatchObject({ exitCode: 0, stdout: 'allowed\n' });
    const r = await env.run(env.spec(['mkdir', '/tmp/x'], (s) => (s.linux!.seccomp = profile)));
    expect(r).toMatchObject({ exitCode: null, signal: 31 });
  });

  it.each([
    ['SCMP_ACT_KILL_PROCESS', { exitCode: null, signal: 31 }, ''],
    ['SCMP_ACT_KILL_THREAD', { exitCode: null, signal: 31 }, ''],
    ['SCMP_ACT_TRAP', { exitCode: null, signal: 31 }, ''],
    // No tracer: the syscall fails with ENOSYS.
    ['SCMP_ACT_TRACE', { exitCode: 1, signal: null }, 'Function not implemented'],
    ['SCMP_ACT_LOG', { exitCode: 0, signal: null }, ''],
  ] as const)('applies %s to a matching syscall', async (action, status, stderr) => {
    const r = await env.run(
      env.spec(['mkdir', '/tmp/x'], (s) => {
        s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action }] };
      }),
    );
    expect(r).toMatchObject(status);
    expect(r.stderr).toContain(stderr);
  });

  it('loads with flags and extra architectures', async () => {
    const r = await env.sh('mkdir /tmp/x', (s) => {
      s.linux!.seccomp = {
        ...denyMkdir(),
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_AARCH64'],
        flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
      };
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/Operation not permitted/);
  });

  it('matches arguments: SCMP_CMP_EQ and SCMP_CMP_MASKED_EQ on personality', async () => {
    for (const arg of [
      { index: 0, value: 8, op: 'SCMP_CMP_EQ' as const },
      { index: 0, value: 0xff, valueTwo: 8, op: 'SCMP_CMP_MASKED_EQ' as const },
    ]) {
      // linux32 calls personality(PER_LINUX32 = 8), linux64 personality(PER_LINUX = 0).
      const r = await env.sh('linux32 true; echo rc32=$?; linux64 true; echo rc64=$?', (s) => {
        s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [arg] }] };
      });
      expect(r.stdout).toBe('rc32=1\nrc64=0\n');
    }
  });

  it.each([
    ['SCMP_CMP_NE', 8, 'rc32=0\nrc64=1\n'],
    ['SCMP_CMP_LT', 8, 'rc32=0\nrc64=1\n'],
    ['SCMP_CMP_LE', 8, 'rc32=1\nrc64=1\n'],
    ['SCMP_CMP_GE', 8, 'rc32=1\nrc64=0\n'],
    ['SCMP_CMP_GT', 0, 'rc32=1\nrc64=0\n'],
  ] as const)('matches arguments with %s %d (personality 8 and 0 denied or not)', async (op, value, out) => {
    const r = await env.sh('linux32 true; echo rc32=$?; linux64 true; echo rc64=$?', (s) => {
      // busybox's linux32 and linux64 call personality once each, with 8 and 0.
      s.linux!.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value, op }] }],
      };
    });
    expect(r.stdout).toBe(out);
  });

  it('treats several comparisons on one argument as alternatives and on distinct arguments as all required (as runc)', async () => {
    const run = (args: NonNullable<LinuxSeccomp['syscalls']>[number]['args']) =>
      env.sh('linux32 true; echo rc32=$?; linux64 true; echo rc64=$?', (s) => {
        s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args }] };
      });
    const same = await run([
      { index: 0, value: 8, op: 'SCMP_CMP_EQ' },
      { index: 0, value: 0, op: 'SCMP_CMP_EQ' },
    ]);
    expect(same.stdout).toBe('rc32=1\nrc64=1\n');
    // personality has one argument; the second register never holds 2^53-1 here, so the rule never matches.
    const distinct = await run([
      { index: 0, value: 8, op: 'SCMP_CMP_EQ' },
      { index: 1, value: Number.MAX_SAFE_INTEGER, op: 'SCMP_CMP_EQ' },
    ]);
    expect(distinct.stdout).toBe('rc32=0\nrc64=0\n');
  });

  it('loads a docker-default-shaped profile: allowed syscalls work, others get defaultErrnoRet, unknown names are skipped', async () => {
    const r = await env.sh('mkdir /tmp/d && echo made; linux32 true && echo personality-ok; mount -t tmpfs t /mnt; echo rc=$?', (s) => {
      s.linux!.seccomp = dockerLikeProfile(38);
    });
    expect(r.stdout).toBe('made\npersonality-ok\nrc=255\n');
    expect(r.stderr).toMatch(/Function not implemented/);
  });

  it('applies the container profile to exec processes', async () => {
    const c = await env.create(env.spec(['sleep', '1000'], (s) => (s.linux!.seccomp = denyMkdir())));
    await env.runtime.start(c.id);
    const err = path.join(env.bundle.dir, 'exec.err');
    const fd = fs.openSync(err, 'w');
    try {
      const h = await env.runtime.exec(c.id, { args: ['mkdir', '/tmp/e'], stdio: { stderr: fd } });
      expect(await h.wait()).toMatchObject({ exitCode: 1 });
    } finally {
      fs.closeSync(fd);
      await env.runtime.delete(c.id, { force: true });
    }
    expect(fs.readFileSync(err, 'utf8')).toMatch(/Operation not permitted/);
  });
});
