import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isInvalidArgument } from '@podkit/errdefs';
import { TestRegistry, registryAvailable } from './registry';

jest.setTimeout(60_000);

describe('TestRegistry options', () => {
  it('uses the given dir without creating anything before start(), and has no pid yet', () => {
    const dir = path.join(os.tmpdir(), `podkit-registry-spec-${process.pid}-never-created`);
    const reg = new TestRegistry({ dir });
    expect(reg.dir).toBe(dir);
    expect(fs.existsSync(dir)).toBe(false);
    expect(reg.pid).toBeUndefined();
  });

  it('defaults to a fresh temporary dir', async () => {
    const reg = new TestRegistry();
    try {
      expect(reg.dir.startsWith(path.join(os.tmpdir(), 'podkit-registry-'))).toBe(true);
      expect(fs.statSync(reg.dir).isDirectory()).toBe(true);
    } finally {
      await reg.stop();
    }
    expect(fs.existsSync(reg.dir)).toBe(false);
  });

  it('refuses a relative dir, naming the field', () => {
    let err: unknown;
    try {
      new TestRegistry({ dir: 'relative/dir' });
    } catch (e) {
      err = e;
    }
    expect(isInvalidArgument(err)).toBe(true);
    expect(String((err as Error).message)).toMatch(/dir.*absolute path/);
  });

  (registryAvailable() ? it : it.skip)('creates the given dir on start(), reports the running pid, removes both on stop()', async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-registry-spec-'));
    const dir = path.join(parent, 'reg');
    const reg = new TestRegistry({ dir });
    try {
      await reg.start();
      const pid = reg.pid;
      expect(pid).toEqual(expect.any(Number));
      expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual(['/usr/bin/docker-registry', 'serve', path.join(dir, 'config.yml'), '']);
      await reg.stop();
      expect(reg.pid).toBeUndefined();
      expect(fs.existsSync(dir)).toBe(false);
    } finally {
      await reg.stop();
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });
});
