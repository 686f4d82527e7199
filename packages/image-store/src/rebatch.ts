/**
 * Regroups a stream of chunks into buffers of `size` bytes (the last one may be shorter). Network
 * reads are 16-64 KiB; handing zlib, the content store and the hash whole batches instead makes one
 * thread-pool round trip out of dozens. Each yielded buffer is new and belongs to the consumer.
 */
export async function* rebatch(src: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let acc = Buffer.allocUnsafeSlow(size);
  let n = 0;
  for await (const chunk of src) {
    let off = 0;
    while (off < chunk.length) {
      const k = chunk.copy(acc, n, off);
      n += k;
      off += k;
      if (n === size) {
        const full = acc;
        acc = Buffer.allocUnsafeSlow(size);
        n = 0;
        yield full;
      }
    }
  }
  if (n > 0) yield acc.subarray(0, n);
}
