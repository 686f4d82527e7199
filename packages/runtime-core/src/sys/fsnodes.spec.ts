import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isAlreadyExists, isInvalidArgument, isNotFound } from '@podkit/errdefs';
import { getAllXattrs, getXattr, listXattrs, mkfifo, mknod, setXattr, XATTR_CREATE } from './fsnodes';

describe('fsnodes', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-fsnodes-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('makes a FIFO with the requested mode', async () => {
    const p = path.join(dir, 'fifo');
    await mkfifo(p, 0o640);
    const st = fs.lstatSync(p);
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & 0o777).toBe(0o640 & ~process.umask());
  });

  it('refuses to make a node over an existing path with AlreadyExists', async () => {
    const p = path.join(dir, 'f');
    fs.writeFileSync(p, 'x');
    const err = await mkfifo(p, 0o644).catch((e: unknown) => e);
    expect(isAlreadyExists(err)).toBe(true);
    expect((err as Error).message).toMatch(/mknod .*EEXIST/);
  });

  it('reports a missing parent as NotFound', async () => {
    const err = await mkfifo(path.join(dir, 'no', 'fifo'), 0o644).catch((e: unknown) => e);
    expect(isNotFound(err)).toBe(true);
  });

  it('validates arguments before crossing into native code', async () => {
    await expect(mknod(path.join(dir, 'x'), { kind: 'pipe' as never, mode: 0o644 })).rejects.toThrow(/kind/);
    const err = await mknod(path.join(dir, 'x'), { kind: 'char', mode: 0o10000 }).catch((e: unknown) => e);
    expect(isInvalidArgument(err)).toBe(true);
    await expect(setXattr(path.join(dir, 'x'), 'noNamespace', 'v')).rejects.toThrow(/namespaced/);
  });


  it('sets, gets and lists user xattrs on a file', async () => {
    const p = path.join(dir, 'f');
    fs.writeFileSync(p, 'x');
    await setXattr(p, 'user.a', 'one');
    await setXattr(p, 'user.b', Buffer.from([0, 1, 2]));
    expect((await getXattr(p, 'user.a'))?.toString()).toBe('one');
    expect(await getXattr(p, 'user.missing')).toBeUndefined();
    expect((await listXattrs(p)).sort()).toEqual(expect.arrayContaining(['user.a', 'user.b']));
    const all = await getAllXattrs(p);
    expect(all.get('user.b')).toEqual(Buffer.from([0, 1, 2]));
    const err = await setXattr(p, 'user.a', 'two', XATTR_CREATE).catch((e: unknown) => e);
    expect(isAlreadyExists(err)).toBe(true);
  });


  it('does not follow a final symlink', async () => {
    const target = path.join(dir, 't');
    fs.writeFileSync(target, 'x');
    const link = path.join(dir, 'l');
    fs.symlinkSync(target, link);
    // user.* xattrs are not allowed on symlinks: the kernel refuses rather than following the link.
    await expect(setXattr(link, 'user.a', 'v')).rejects.toThrow(/lsetxattr/);
    expect(await getXattr(target, 'user.a')).toBeUndefined();
  });
});
