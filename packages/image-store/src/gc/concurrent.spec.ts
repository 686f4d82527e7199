/**
 * GC and pulls running at the same time lose nothing that is referenced: a pull's lease protects what
 * it writes until its image record exists, and a finished image's blobs and snapshots are roots.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ImageStore } from '../images/store';
import { FakeRegistry } from '../test-support/fake-registry';

const amd64 = { os: 'linux', architecture: 'amd64' };

describe('GC under concurrent pulls', () => {
  let reg: FakeRegistry;
  let root: string;
  let store: ImageStore;
  beforeEach(async () => {
    reg = new FakeRegistry();
    await reg.start();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-gc-pulls-'));
    store = await ImageStore.open(path.join(root, 'store'), { backoffMs: 5 });
  });
  afterEach(async () => {
    await store.close();
    await reg.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('20 pulls of 5 images interleaved with GC runs: every pulled image stays whole', async () => {
    const base = [{ name: 'bin/', type: 'dir' as const }, { name: 'bin/sh', data: 'sh'.repeat(5000) }];
    const refs: string[] = [];
    for (let i = 0; i < 5; i++) {
      reg.addImage(`lib/img${i}`, 'v1', [base, [{ name: `app${i}`, data: `app ${i}`.repeat(3000) }]]);
      refs.push(`${reg.host}/lib/img${i}:v1`);
    }
    // An orphan that GC must remove: an image pulled, then its record dropped by hand.
    reg.addImage('lib/orphan', 'v1', [[{ name: 'junk', data: 'x'.repeat(20000) }]]);
    const orphan = await store.pull(`${reg.host}/lib/orphan:v1`, { platform: amd64 });
    fs.rmSync(path.join(store.root, 'images'), { recursive: true });
    fs.mkdirSync(path.join(store.root, 'images'));

    let stop = false;
    const gcRuns: Array<Awaited<ReturnType<ImageStore['gc']>>> = [];
    const gcLoop = (async () => {
      while (!stop) {
        gcRuns.push(await store.gc());
        await new Promise((r) => setImmediate(r));
      }
    })();
    const pulls: Promise<unknown>[] = [];
    for (let round = 0; round < 4; round++) {
      for (const r of refs) pulls.push(store.pull(r, { platform: amd64 }));
      await Promise.all(pulls.splice(0));
    }
    stop = true;
    await gcLoop;
    gcRuns.push(await store.gc());

    expect(gcRuns.length).toBeGreaterThan(1);
    const removed = new Set(gcRuns.flatMap((g) => g.removedSnapshots.map((s) => s.name)));
    expect(removed.has(store.chainIds(orphan)[0]!)).toBe(true);
    for (const r of refs) {
      const rec = await store.get(r);
      for (const d of [rec.manifest, rec.config, ...rec.layers]) expect([d.digest, await store.content.has(d.digest)]).toEqual([d.digest, true]);
      for (const c of store.chainIds(rec)) expect([c, store.snapshotter.has(c)]).toEqual([c, true]);
      const [m] = await store.prepareSnapshot(`ctr-${rec.name.replace(/[^a-z0-9]/g, '-')}`, r);
      expect(m!.type).toBe('overlay');
    }
    expect(fs.readdirSync(path.join(store.root, 'leases'))).toEqual([]);
  });
});
