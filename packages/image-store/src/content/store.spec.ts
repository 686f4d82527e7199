import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isDataLoss, isFailedPrecondition, isNotFound, isUnavailable } from '@podkit/errdefs';
import { digestOf } from '@podkit/oci-spec';
import { ContentStore, WRITE_BATCH } from './store';

describe('ContentStore', () => {
  let root: string;
  let store: ContentStore;
  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-content-'));
    store = await ContentStore.open(root);
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const data = crypto.randomBytes(300_000);
  const digest = digestOf(data);

  it('commits a blob only when size and digest match, and it is invisible before', async () => {
    const w = await store.writer('ref-1', { expected: { digest, size: data.length } });
    await w.write(data.subarray(0, 1000));
    expect(await store.has(digest)).toBe(false);
    await expect(store.info(digest)).rejects.toThrow(/not found/);
    await w.write(data.subarray(1000));
    expect(await w.commit(data.length, digest, { 'podkit/kind': 'layer' })).toBe(digest);
    const info = await store.info(digest);
    expect(info.size).toBe(data.length);
    expect(info.labels).toEqual({ 'podkit/kind': 'layer' });
    expect(fs.readFileSync(store.blobPath(digest))).toEqual(data);
    expect(fs.statSync(store.blobPath(digest)).mode & 0o777).toBe(0o444);
    expect(await store.ingestions()).toEqual([]);
  });

  it('writes batch-sized chunks as they are, between small ones that are batched', async () => {
    const big = crypto.randomBytes(3 * WRITE_BATCH + 777);
    const d = digestOf(big);
    const w = await store.writer('ref-big', { expected: { digest: d, size: big.length } });
    // small, then whole batches (each written without a copy), then a tail; the caller reuses its
    // buffer after each write, which must not change what was written.
    const scratch = Buffer.alloc(2 * WRITE_BATCH);
    const parts = [big.subarray(0, 100), big.subarray(100, 100 + WRITE_BATCH), big.subarray(100 + WRITE_BATCH, 100 + 2 * WRITE_BATCH + 1), big.subarray(100 + 2 * WRITE_BATCH + 1)];
    await w.write(parts[0]!);
    for (const p of parts.slice(1)) {
      const copy = scratch.subarray(0, p.length);
      p.copy(copy);
      await w.write(copy);
      copy.fill(0);
    }
    expect(w.offset).toBe(big.length);
    expect(await w.commit()).toBe(d);
    expect(fs.readFileSync(store.blobPath(d))).toEqual(big);
  });

  it('refuses a wrong size (keeping the ingestion) and a wrong digest (dropping it)', async () => {
    const w = await store.writer('ref-2');
    await w.write(data.subarray(0, 10));
    const e1 = await w.commit(11).catch((e: unknown) => e);
    expect(isFailedPrecondition(e1)).toBe(true);
    const e2 = await w.commit(10, digest).catch((e: unknown) => e);
    expect(isDataLoss(e2)).toBe(true);
    expect((e2 as Error).message).toMatch(/does not match the expected sha256:/);
    expect(await store.has(digest)).toBe(false);
    expect(await store.ingestions()).toEqual([]);
  });

  it('refuses bytes beyond the expected size', async () => {
    const w = await store.writer('ref-3', { expected: { digest, size: 5 } });
    const err = await w.write(Buffer.alloc(6)).catch((e: unknown) => e);
    expect(isDataLoss(err)).toBe(true);
    await w.abort();
  });

  it('lets one writer hold a ref; the next one waits or fails with Unavailable', async () => {
    const w = await store.writer('ref-4');
    const err = await store.writer('ref-4').catch((e: unknown) => e);
    expect(isUnavailable(err)).toBe(true);
    const waiting = store.writer('ref-4', { waitMs: 5000 });
    await w.write(data.subarray(0, 100));
    await w.close();
    const w2 = await waiting;
    expect(w2.offset).toBe(100);
    await w2.abort();
  });

  it('resumes an ingestion left behind by a crashed writer (dead pid in the lock)', async () => {
    const w = await store.writer('layer-x', { expected: { digest, size: data.length } });
    await w.write(data.subarray(0, 123_456));
    await w.flush();
    // Bytes still in the writer's batch when the process dies are lost; the resume starts after the
    // last byte that reached the file.
    await w.write(data.subarray(123_456, 124_000));
    // Simulate kill -9: the lock stays with the pid of a process that no longer exists.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const ingest = path.join(root, 'ingest', fs.readdirSync(path.join(root, 'ingest'))[0]!);
    fs.writeFileSync(path.join(ingest, 'lock'), dead.stdout);
    (store as unknown as { held: Set<string> }).held.clear();
    const fresh = await ContentStore.open(root);
    const st = await fresh.ingestions();
    expect(st).toEqual([expect.objectContaining({ ref: 'layer-x', offset: 123_456 })]);
    expect(st[0]!.owner).toBeUndefined();
    const r = await fresh.writer('layer-x', { expected: { digest, size: data.length } });
    expect(r.offset).toBe(123_456);
    await r.write(data.subarray(r.offset));
    await r.commit();
    expect(fs.readFileSync(fresh.blobPath(digest))).toEqual(data);
  });

  it('walks, filters by label, relabels and deletes', async () => {
    const a = await store.putBlob(Buffer.from('a'), undefined, { kind: 'config' });
    const b = await store.putBlob(Buffer.from('b'), digestOf('b'));
    expect(await store.putBlob(Buffer.from('a'))).toBe(a);
    const all: string[] = [];
    for await (const i of store.walk()) all.push(i.digest);
    expect(all.sort()).toEqual([a, b].sort());
    const configs: string[] = [];
    for await (const i of store.walk({ labels: { kind: 'config' } })) configs.push(i.digest);
    expect(configs).toEqual([a]);
    await store.setLabels(a, {});
    expect((await store.info(a)).labels).toEqual({});
    await store.delete(a);
    expect(await store.has(a)).toBe(false);
    expect(isNotFound(await store.delete(a).catch((e: unknown) => e))).toBe(true);
    await expect(store.putBlob(Buffer.from('c'), digestOf('d'))).rejects.toThrow(/does not match/);
    expect(await store.readBlob(b)).toEqual(Buffer.from('b'));
    await expect(store.readBlob(b, 0)).rejects.toThrow(/exceeds the limit/);
  });

  it('keeps concurrent ingestions of the same digest under different refs safe', async () => {
    const ws = await Promise.all([store.writer('r-a'), store.writer('r-b'), store.writer('r-c')]);
    await Promise.all(ws.map((w) => w.write(data)));
    const got = await Promise.all(ws.map((w) => w.commit(data.length, digest)));
    expect(new Set(got)).toEqual(new Set([digest]));
    expect(fs.readFileSync(store.blobPath(digest))).toEqual(data);
    expect(await store.ingestions()).toEqual([]);
  });
});
