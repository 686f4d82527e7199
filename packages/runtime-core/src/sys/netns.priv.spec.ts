import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isAlreadyExists, isNotFound } from '@podkit/errdefs';
import { waitUntil } from '../test-support/priv';
import { inspectNetns, netnsExecCommand, pinNetns, unpinNetns } from './netns';

const root = process.getuid?.() === 0;
const describeRoot = root ? describe : describe.skip; // pinning needs CAP_SYS_ADMIN: skipped when not root

function mountedAt(p: string): boolean {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === p);
}

describeRoot('netns pinning (root)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `podkit-netns-${process.pid}-`));
  });
  afterAll(async () => {
    for (const n of fs.readdirSync(dir)) await unpinNetns(path.join(dir, n)).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('pins a new namespace that outlives its thread, runs a command in it, and removes it', async () => {
    const ns = path.join(dir, 'a');
    const selfNs = fs.readlinkSync('/proc/self/ns/net');
    await pinNetns(ns);
    // Node's own threads never moved.
    expect(fs.readlinkSync('/proc/self/ns/net')).toBe(selfNs);
    // The pinning thread itself was in the new namespace: pthread_join returns when it has exited, but
    // the kernel may list the task in /proc/self/task a moment longer. Every thread left is in ours.
    const strays = () =>
      fs.readdirSync('/proc/self/task').filter((tid) => {
        try {
          return fs.readlinkSync(`/proc/self/task/${tid}/ns/net`) !== selfNs;
        } catch {
          return false; // gone while we looked
        }
      });
    await waitUntil(() => strays().length === 0, () => `threads outside this process's net namespace: ${strays().join(', ')}`, { timeoutMs: 5_000 });
    const info = await inspectNetns(ns);
    expect(info.isNetns).toBe(true);
    expect(`net:[${info.inode}]`).not.toBe(selfNs);
    expect(mountedAt(ns)).toBe(true);

    const cmd = netnsExecCommand(ns, ['readlink', '/proc/self/ns/net']);
    expect(execFileSync(cmd.file, cmd.args, { encoding: 'utf8' }).trim()).toBe(`net:[${info.inode}]`);

    await unpinNetns(ns);
    expect(mountedAt(ns)).toBe(false);
    expect(fs.existsSync(ns)).toBe(false);
    await unpinNetns(ns); // idempotent
  });

  it('refuses an existing name and a missing parent, leaving nothing behind', async () => {
    const ns = path.join(dir, 'b');
    await pinNetns(ns);
    const err = await pinNetns(ns).catch((e: unknown) => e);
    expect(isAlreadyExists(err)).toBe(true);
    expect((await inspectNetns(ns)).isNetns).toBe(true);
    await unpinNetns(ns);
    const missing = await pinNetns(path.join(dir, 'no-such-dir', 'c')).catch((e: unknown) => e);
    expect(isNotFound(missing)).toBe(true);
  });

  it('pins many namespaces concurrently, each distinct', async () => {
    const names = Array.from({ length: 16 }, (_, i) => path.join(dir, `many-${i}`));
    await Promise.all(names.map((n) => pinNetns(n)));
    const inodes = await Promise.all(names.map(async (n) => (await inspectNetns(n)).inode));
    expect(new Set(inodes).size).toBe(names.length);
    await Promise.all(names.map((n) => unpinNetns(n)));
    expect(names.some((n) => mountedAt(n))).toBe(false);
  });
});
