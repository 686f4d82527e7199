import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isInvalidArgument, isPermissionDenied } from '@podkit/errdefs';
import { inspectNetns, netnsExecCommand, netnsHelperPath, pinNetns, unpinNetns } from './netns';

describe('netns wrappers (unprivileged)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-netns-unit-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('rejects relative and empty paths with the field name', async () => {
    await expect(pinNetns('relative/ns')).rejects.toThrow(/netns path: must be an absolute path/);
    await expect(unpinNetns('')).rejects.toThrow(/netns path: must be a non-empty string/);
    let err: unknown;
    try {
      await inspectNetns('a\0b');
    } catch (e) {
      err = e;
    }
    expect(isInvalidArgument(err)).toBe(true);
  });

  it('reports a missing path and a plain file as not a namespace', async () => {
    expect(await inspectNetns(path.join(dir, 'missing'))).toEqual({ exists: false, isNetns: false, inode: 0 });
    const plain = path.join(dir, 'plain');
    fs.writeFileSync(plain, '');
    const info = await inspectNetns(plain);
    expect(info.exists).toBe(true);
    expect(info.isNetns).toBe(false);
    expect(info.inode).toBe(fs.statSync(plain).ino);
  });

  it('does not block on a FIFO and tells other namespace types apart', async () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(await inspectNetns(fifo)).toMatchObject({ exists: true, isNetns: false });
    expect(await inspectNetns('/proc/self/ns/mnt')).toMatchObject({ exists: true, isNetns: false });
  });

  it('reports the current namespace file as a network namespace', async () => {
    const info = await inspectNetns('/proc/self/ns/net');
    expect(info.isNetns).toBe(true);
    expect(`net:[${info.inode}]`).toBe(fs.readlinkSync('/proc/self/ns/net'));
  });

  it('unpin of a missing path is a no-op', async () => {
    await expect(unpinNetns(path.join(dir, 'never-created'))).resolves.toBeUndefined();
  });

  it('builds the helper command line', () => {
    const cmd = netnsExecCommand('/run/x/../ns', ['ip', 'link']);
    expect(cmd.file).toBe(netnsHelperPath());
    expect(cmd.args).toEqual(['/run/ns', 'ip', 'link']);
    expect(() => netnsExecCommand('/run/ns', [])).toThrow(/argv: must name a command/);
  });

  it('maps a failure of the pinning thread to a typed error when not root', async () => {
    if (process.getuid?.() === 0) return; // covered by netns.priv.spec.ts as root
    let err: unknown;
    try {
      await pinNetns(path.join(dir, 'ns'));
    } catch (e) {
      err = e;
    }
    expect(isPermissionDenied(err)).toBe(true);
    expect(fs.existsSync(path.join(dir, 'ns'))).toBe(false);
  });
});
