import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isAlreadyExists, isNotFound } from '@podkit/errdefs';
import { NetnsStore } from './netns';

const describeRoot = process.getuid?.() === 0 ? describe : describe.skip; // pinning namespaces needs root

describeRoot('NetnsStore (root)', () => {
  let runDir: string;
  let store: NetnsStore;
  beforeAll(() => {
    runDir = fs.mkdtempSync(path.join(os.tmpdir(), `podkit-netns-store-${process.pid}-`));
    store = new NetnsStore(runDir);
  });
  afterAll(async () => {
    for (const ns of await store.list().catch(() => [])) await store.rm(ns.name).catch(() => undefined);
    fs.rmSync(runDir, { recursive: true, force: true });
  });

  it('adds, lists, runs commands in and removes named namespaces', async () => {
    const a = await store.add('alpha');
    const b = await store.add('beta');
    expect(a.path).toBe(path.join(runDir, 'netns', 'alpha'));
    expect(await store.list()).toEqual([a, b]);
    expect(await store.get('alpha')).toEqual(a);
    expect(isAlreadyExists(await store.add('alpha').catch((e: unknown) => e))).toBe(true);

    // A command runs in the namespace: it sees only its own loopback, and its exit status comes back.
    const out = path.join(runDir, 'links.txt');
    const fd = fs.openSync(out, 'w');
    try {
      expect(await store.exec('alpha', ['ip', '-o', 'link', 'show'], ['ignore', fd, 'inherit'])).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
    expect(fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => l.split(': ')[1])).toEqual(['lo']);
    expect(await store.exec('alpha', ['sh', '-c', 'exit 7'], 'ignore')).toBe(7);
    expect(await store.exec('alpha', ['sh', '-c', 'kill -TERM $$'], 'ignore')).toBe(128 + 15);
    expect(await store.exec('alpha', ['/no/such/command'], 'ignore')).toBe(127);
    expect(isNotFound(await store.exec('gamma', ['true']).catch((e: unknown) => e))).toBe(true);

    await store.rm('alpha');
    await store.rm('alpha');
    expect(await store.list()).toEqual([b]);
    await store.rm('beta');
    expect(fs.readdirSync(store.dir)).toEqual([]);
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(store.dir);
  });
});
