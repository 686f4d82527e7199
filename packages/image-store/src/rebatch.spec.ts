import { rebatch } from './rebatch';

async function* chunks(sizes: number[]): AsyncGenerator<Buffer> {
  let n = 0;
  for (const s of sizes) {
    yield Buffer.from(Array.from({ length: s }, () => n++ & 0xff));
  }
}

async function collect(src: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const b of src) out.push(b);
  return out;
}

describe('rebatch', () => {
  it('regroups chunks of any size into batches of the size, the last one shorter, bytes in order', async () => {
    const sizes = [3, 10, 1, 0, 25, 7, 4];
    const out = await collect(rebatch(chunks(sizes), 8));
    expect(out.map((b) => b.length)).toEqual([8, 8, 8, 8, 8, 8, 2]);
    expect(Buffer.concat(out)).toEqual(Buffer.concat(await collect(chunks(sizes))));
  });

  it('hands out a new buffer for every batch, which later batches do not overwrite', async () => {
    const out = await collect(rebatch(chunks([16, 16]), 8));
    expect(new Set(out.map((b) => b.buffer)).size).toBe(4);
    expect(out[0]![0]).toBe(0);
    expect(out[3]![7]).toBe(31);
  });

  it('yields nothing for an empty source', async () => {
    expect(await collect(rebatch(chunks([]), 8))).toEqual([]);
  });
});
