/**
 * One layer from compressed bytes to files: decompress (gzip or none, zstd via zstd/decompress.ts),
 * hash the uncompressed tar (the diff ID) and extract it, all streaming. The diff ID is checked
 * against the image config's `rootfs.diff_ids` after the last byte.
 *
 * gzip and uncompressed layers go through the native layer pipe when the addon and this Node have it
 * (see `@podkit/runtime-core/sys` LayerPipe): the blob digest, gunzip, the diff ID and the writing of
 * file bodies then run on a thread of their own, and this thread only parses headers and decides
 * (measured in tools/src/bench/image.ts). Otherwise, and for zstd, node:zlib and node:crypto do it
 * here; `PODKIT_LAYER_PIPE=0` forces that path (tests run both).
 */
import { Readable, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import { DataLossError, InvalidArgumentError, UnimplementedError } from '@podkit/errdefs';
import { Digest, Digester, LayerCompression } from '@podkit/oci-spec';
import { layerPipeSupport } from '@podkit/runtime-core/sys';
import { zstdDecompress } from '../zstd/decompress';
import { applyLayer, ApplyOptions, ApplyStats } from './apply';
import { compressionError, feedLayerPipe, openLayerPipe, PipeTarSource } from './pipe-source';

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
  /** sha256 and size of the compressed bytes as given, when the native pipe hashed them (see usesLayerPipe). */
  compressed?: { digest: Digest; size: number };
}

let pipeSupport: boolean | undefined;

/**
 * Whether unpackLayerStream takes the native pipe for this layer; then its result carries the
 * compressed stream's sha256, and the caller need not hash the blob itself.
 */
export function usesLayerPipe(compression: LayerCompression, expectedDiffId?: string): boolean {
  if (compression !== 'gzip' && compression !== 'none') return false;
  if (expectedDiffId !== undefined && !expectedDiffId.startsWith('sha256:')) return false;
  if (process.env['PODKIT_LAYER_PIPE'] === '0') return false;
  pipeSupport ??= layerPipeSupport().available;
  return pipeSupport;
}

function checkDiffId(diffId: Digest, expected: string | undefined): void {
  if (expected !== undefined && diffId !== expected) {
    throw new DataLossError(`layer diff ID ${diffId} does not match the image config's ${expected}`, { details: { field: 'rootfs.diff_ids' } });
  }
}

export interface UnpackLayerOptions extends ApplyOptions {
  expectedDiffId?: string;
  /**
   * Only when usesLayerPipe(): the pipe's thread also appends the compressed bytes to this open
   * ingestion file (the first `keep` are there already); see LayerPipeOptions.ingest.
   */
  ingest?: { fd: number; keep: number };
}

async function unpackThroughPipe(compressed: AsyncIterable<Buffer>, compression: 'gzip' | 'none', dir: string, opts: UnpackLayerOptions): Promise<LayerResult> {
  const pipe = openLayerPipe(compression, opts.limits, opts.ingest);
  // Network (or store) chunks go into the pipe beside the extraction; it holds at most a few MiB.
  const feeding = feedLayerPipe(pipe, compressed);
  try {
    const stats = await applyLayer(dir, new PipeTarSource(pipe, compression), opts);
    // The tar ends at its end-of-archive marker; the rest (padding) still counts in the diff ID.
    const fin = await pipe.finish();
    await feeding;
    const diffId = fin.diffId as Digest;
    checkDiffId(diffId, opts.expectedDiffId);
    return { ...stats, diffId, compressed: { digest: fin.compressedDigest as Digest, size: fin.compressedSize } };
  } catch (err) {
    throw compressionError(err, compression);
  } finally {
    pipe.close();
    await feeding.catch(() => undefined);
  }
}

/** Extracts a (possibly compressed) layer stream into `dir` and checks its diff ID. */
export async function unpackLayerStream(
  compressed: AsyncIterable<Buffer>,
  compression: LayerCompression,
  dir: string,
  opts: UnpackLayerOptions,
): Promise<LayerResult> {
  if ((compression === 'gzip' || compression === 'none') && usesLayerPipe(compression, opts.expectedDiffId)) {
    return unpackThroughPipe(compressed, compression, dir, opts);
  }
  if (opts.ingest) throw new InvalidArgumentError('ingest: only with the layer pipe (usesLayerPipe() is false here)', { details: { field: 'ingest' } });
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
    throw compressionError(err, compression);
  }
  const diffId = d.digest();
  checkDiffId(diffId, opts.expectedDiffId);
  return { ...stats, diffId };
}
