/**
 * Streaming zstd decompression for `+zstd` layers (and zstd:chunked ones, which are plain zstd frames
 * followed by skippable frames holding the table of contents: read as plain zstd, the TOC is skipped).
 *
 * Node 20's zlib has no zstd, so this uses fzstd (MIT, pure JS, ~30 KiB), fed chunk by chunk: memory
 * stays bounded by the frame's window plus one input chunk, whatever the layer size. Where the running
 * Node has `zlib.createZstdDecompress` (22.15+), that native decoder is used instead.
 */
import * as zlib from 'node:zlib';
import { Readable, pipeline } from 'node:stream';
import { InvalidArgumentError } from '@podkit/errdefs';

type NativeZstd = () => NodeJS.ReadWriteStream & AsyncIterable<Buffer>;

function nativeZstd(): NativeZstd | undefined {
  const f = (zlib as unknown as { createZstdDecompress?: NativeZstd }).createZstdDecompress;
  return typeof f === 'function' ? f : undefined;
}

function zstdError(err: unknown): InvalidArgumentError {
  const msg = err instanceof Error ? err.message : String(err);
  return new InvalidArgumentError(`zstd: ${msg}`, { cause: err, details: { field: 'layer' } });
}

/** The pure-JS decoder, chunk-wise: one input chunk in, the bytes it completes out. */
export async function* zstdDecompressJs(src: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<Buffer> {
  // Loaded on first use: podimg commands that never see a zstd layer do not pay for it.
  const { Decompress } = require('fzstd') as typeof import('fzstd');
  let out: Buffer[] = [];
  const d = new Decompress((chunk: Uint8Array) => {
    // fzstd may reuse its window buffer for the next block: copy what it hands over.
    out.push(Buffer.from(chunk));
  });
  let sawInput = false;
  for await (const chunk of src) {
    if (chunk.byteLength === 0) continue;
    sawInput = true;
    try {
      d.push(chunk, false);
    } catch (err) {
      throw zstdError(err);
    }
    if (out.length > 0) {
      const ready = out;
      out = [];
      yield* ready;
    }
  }
  if (!sawInput) throw new InvalidArgumentError('zstd: empty input', { details: { field: 'layer' } });
  try {
    d.push(new Uint8Array(0), true);
  } catch (err) {
    throw zstdError(err);
  }
  yield* out;
}

/** Decompresses a zstd stream (native zlib when the runtime has it, else fzstd). */
export function zstdDecompress(src: AsyncIterable<Buffer | Uint8Array>, opts: { preferJs?: boolean } = {}): AsyncIterable<Buffer> {
  const native = opts.preferJs ? undefined : nativeZstd();
  if (!native) return zstdDecompressJs(src);
  const z = native();
  pipeline(Readable.from(src, { objectMode: false, highWaterMark: 1 }), z, () => {
    /* errors surface through the iteration of z */
  });
  return z;
}
