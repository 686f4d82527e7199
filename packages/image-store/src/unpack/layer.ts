/**
 * One layer from compressed bytes to files: decompress (gzip via node:zlib, zstd via zstd/decompress.ts, or none), hash the
 * uncompressed tar (the diff ID) and extract it, all streaming. The diff ID is checked against the
 * image config's `rootfs.diff_ids` after the last byte.
 */
import { Readable, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import { DataLossError, InvalidArgumentError, UnimplementedError } from '@podkit/errdefs';
import { Digest, Digester, LayerCompression } from '@podkit/oci-spec';
import { zstdDecompress } from '../zstd/decompress';
import { applyLayer, ApplyOptions, ApplyStats } from './apply';

/**
 * Output buffer of gunzip: each one filled is a round trip to the thread pool and back, so fewer,
 * larger ones keep the main thread free (1 MiB: about 200 round trips for a 200 MiB image, not 800).
 */
const GUNZIP_CHUNK = 1024 * 1024;

/** The uncompressed tar stream of a layer. */
export function decompress(src: AsyncIterable<Buffer>, compression: LayerCompression): AsyncIterable<Buffer> {
  if (compression === 'none') return src;
  if (compression === 'gzip') {
    const gunzip = zlib.createGunzip({ chunkSize: GUNZIP_CHUNK });
    pipeline(Readable.from(src, { objectMode: false, highWaterMark: 1 }), gunzip, () => {
      /* errors surface through the iteration of gunzip */
    });
    return gunzip;
  }
  // zstd:chunked layers are plain zstd frames plus skippable ones: the same decoder reads them.
  if (compression === 'zstd') return zstdDecompress(src);
  throw new UnimplementedError(`layer compression ${compression} is not supported (gzip, zstd and uncompressed are)`, { details: { field: 'mediaType' } });
}

async function* hashing(src: AsyncIterable<Buffer>, d: Digester): AsyncGenerator<Buffer> {
  for await (const c of src) {
    d.update(c);
    yield c;
  }
}

export interface LayerResult extends ApplyStats {
  diffId: Digest;
}

/** Extracts a (possibly compressed) layer stream into `dir` and checks its diff ID. */
export async function unpackLayerStream(
  compressed: AsyncIterable<Buffer>,
  compression: LayerCompression,
  dir: string,
  opts: ApplyOptions & { expectedDiffId?: string },
): Promise<LayerResult> {
  const d = new Digester();
  const tar = hashing(decompress(compressed, compression), d);
  let stats: ApplyStats;
  try {
    stats = await applyLayer(dir, tar, opts);
    // The tar reader stops at the end-of-archive marker; the rest (padding) still counts in the diff ID.
    for await (const _ of tar) {
      /* drain */
    }
  } catch (err) {
    // zlib reports corrupt input with Z_* codes: say what it means for a layer.
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new InvalidArgumentError(`layer is not a valid ${compression} stream: ${(err as Error).message}`, { cause: err, details: { field: 'layer' } });
    }
    throw err;
  }
  const diffId = d.digest();
  if (opts.expectedDiffId !== undefined && diffId !== opts.expectedDiffId) {
    throw new DataLossError(`layer diff ID ${diffId} does not match the image config's ${opts.expectedDiffId}`, { details: { field: 'rootfs.diff_ids' } });
  }
  return { ...stats, diffId };
}
