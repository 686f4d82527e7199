/**
 * Runs the layer-application specs both ways a layer is read: the JavaScript tar stream, and the
 * native layer pipe (header sequences framed and file bodies written by its thread). The hostile-layer
 * suites must hold for both. The pipe is required: a build without it fails here, it is not skipped.
 */
import { layerPipeSupport } from '@podkit/runtime-core/sys';
import { applyLayer, ApplyOptions, ApplyStats } from '../unpack/apply';
import { feedLayerPipe, openLayerPipe, PipeTarSource } from '../unpack/pipe-source';
import { readTar, readTarFrom, TarEntry } from '../tar/reader';
import { TarLimits } from '../tar/types';

export type ApplyVia = 'javascript stream' | 'native layer pipe';
export const APPLY_VIAS: ApplyVia[] = ['javascript stream', 'native layer pipe'];

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

/** Applies an uncompressed tar to `root` the chosen way. */
export async function applyVia(via: ApplyVia, root: string, tar: Buffer, opts: ApplyOptions): Promise<ApplyStats> {
  if (via === 'javascript stream') return applyLayer(root, once(tar), opts);
  const support = layerPipeSupport();
  if (!support.available) throw new Error(`the native layer pipe is not available: ${support.reason}`);
  const pipe = openLayerPipe('none', opts.limits);
  try {
    // Several writes, so headers and bodies cross input chunks.
    const feeding = feedLayerPipe(pipe, pieces(tar, 777));
    const stats = await applyLayer(root, new PipeTarSource(pipe, 'none'), opts);
    await pipe.finish();
    await feeding;
    return stats;
  } finally {
    pipe.close();
  }
}

/** Reads a tar the chosen way, the input handed over in `chunk`-byte pieces. */
export async function* readTarVia(via: ApplyVia, tar: Buffer, chunk: number, limits: Partial<TarLimits> = {}): AsyncGenerator<TarEntry> {
  if (via === 'javascript stream') {
    yield* readTar(pieces(tar, chunk), limits);
    return;
  }
  const pipe = openLayerPipe('none', limits);
  const feeding = feedLayerPipe(pipe, pieces(tar, chunk));
  try {
    yield* readTarFrom(new PipeTarSource(pipe, 'none'), limits);
    await pipe.finish();
    await feeding;
  } finally {
    pipe.close();
  }
}

async function* pieces(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}
