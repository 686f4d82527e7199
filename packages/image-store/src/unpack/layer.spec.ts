import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { isDataLoss, isInvalidArgument } from '@podkit/errdefs';
import { digestOf } from '@podkit/oci-spec';
import { buildTar } from '../tar/writer';
import { unpackLayerStream } from './layer';

async function* chunks(b: Buffer, n = 1000): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += n) yield b.subarray(i, i + n);
}

describe('unpackLayerStream', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-layer-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tar = buildTar([{ name: 'a', data: 'x'.repeat(5000) }, { name: 'b/', type: 'dir' }]);

  it('extracts a gzip layer and returns the diff ID of the uncompressed tar, padding included', async () => {
    const r = await unpackLayerStream(chunks(zlib.gzipSync(tar)), 'gzip', dir, { target: 'flat', expectedDiffId: digestOf(tar) });
    expect(r).toMatchObject({ diffId: digestOf(tar), entries: 2, bytes: 5000 });
    expect(fs.readFileSync(path.join(dir, 'a'), 'utf8')).toHaveLength(5000);
  });

  it('extracts an uncompressed layer', async () => {
    const r = await unpackLayerStream(chunks(tar), 'none', dir, { target: 'flat' });
    expect(r.diffId).toBe(digestOf(tar));
  });

  it('refuses a diff ID that does not match', async () => {
    const err = await unpackLayerStream(chunks(tar), 'none', dir, { target: 'flat', expectedDiffId: digestOf('other') }).catch((e: unknown) => e);
    expect(isDataLoss(err)).toBe(true);
  });

  it('says clearly when the gzip stream is corrupt or truncated', async () => {
    const gz = zlib.gzipSync(tar);
    const bad = Buffer.from(gz);
    bad[0] = 0;
    const e1 = await unpackLayerStream(chunks(bad), 'gzip', dir, { target: 'flat' }).catch((e: unknown) => e);
    expect(isInvalidArgument(e1)).toBe(true);
    expect((e1 as Error).message).toMatch(/not a valid gzip stream: incorrect header check/);
    const e2 = await unpackLayerStream(chunks(gz.subarray(0, gz.length - 30)), 'gzip', dir, { target: 'flat' }).catch((e: unknown) => e);
    expect(isInvalidArgument(e2)).toBe(true);
  });

  it('decodes zstd layers (see zstd/*.spec.ts) and says clearly when the bytes are not zstd', async () => {
    const err = await unpackLayerStream(chunks(tar), 'zstd', dir, { target: 'flat' }).catch((e: unknown) => e);
    expect(isInvalidArgument(err)).toBe(true);
    expect((err as Error).message).toMatch(/^zstd: /);
  });
});
