import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NetnsStore, validateNetnsName } from './netns';

describe('NetnsStore (unprivileged parts)', () => {
  it('validates names as ip netns does', () => {
    expect(validateNetnsName('pod-1')).toBe('pod-1');
    for (const bad of ['', '.', '..', 'a/b', 'x'.repeat(256), 'a\nb']) expect(() => validateNetnsName(bad)).toThrow(/^name: /);
    expect(() => new NetnsStore('relative')).toThrow(/runDir: must be an absolute path/);
  });

  it('lists nothing for a missing folder and skips files that are not namespaces', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-netns-store-'));
    try {
      const store = new NetnsStore(dir);
      expect(store.dir).toBe(path.join(dir, 'netns'));
      expect(await store.list()).toEqual([]);
      fs.mkdirSync(store.dir);
      fs.writeFileSync(path.join(store.dir, 'plain'), '');
      expect(await store.list()).toEqual([]);
      await expect(store.get('plain')).rejects.toThrow(/network namespace "plain" not found/);
      await expect(store.rm('missing')).resolves.toBeUndefined();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
