/**
 * A TarByteSource over the native layer pipe (`@podkit/runtime-core/sys` LayerPipe): header
 * sequences arrive framed by the pipe's thread, regular files' bodies are written by it (toFile), and
 * everything else (PAX data cut by a limit, the bodies of entries JavaScript reads) is read through it.
 * The reader in tar/reader.ts parses and checks every header exactly as for a JavaScript stream.
 */
import { InternalError, InvalidArgumentError } from '@podkit/errdefs';
import { LayerPipe, LayerPipeTruncated } from '@podkit/runtime-core/sys';
import { corrupt, TarByteSource, TarFileSpec } from '../tar/reader';
import { DEFAULT_TAR_LIMITS, TarLimits } from '../tar/types';

/** A layer pipe that frames headers within the tar reader's limits. */
export function openLayerPipe(compression: 'gzip' | 'none', limits: Partial<TarLimits> = {}, ingest?: { fd: number; keep: number }): LayerPipe {
  const lim = { ...DEFAULT_TAR_LIMITS, ...limits };
  return new LayerPipe({ compression, maxPaxHeaderSize: lim.maxPaxHeaderSize, maxLongNameSize: lim.maxLongNameSize, ...(ingest ? { ingest } : {}) });
}

/**
 * Copies `chunks` into the pipe beside the extraction, then ends its input; a failing source aborts
 * the pipe (its requests then throw the source's error). Once the pipe is closed its write() throws,
 * which ends this too. The promise is marked handled: the caller awaits it after the extraction.
 */
export function feedLayerPipe(pipe: LayerPipe, chunks: AsyncIterable<Buffer>): Promise<void> {
  const feeding = (async () => {
    try {
      for await (const chunk of chunks) await pipe.write(chunk);
      pipe.end();
    } catch (err) {
      pipe.abort(err);
      throw err;
    }
  })();
  feeding.catch(() => undefined);
  return feeding;
}

/**
 * zlib (node:zlib, or the pipe's inflate) reports corrupt input with a Z_* code: say what it means for a
 * layer. Anything else is returned as it is.
 */
export function compressionError(err: unknown, compression: string): unknown {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new InvalidArgumentError(`layer is not a valid ${compression} stream: ${(err as Error).message}`, { cause: err, details: { field: 'layer' } });
  }
  return err;
}

const EMPTY = Buffer.alloc(0);
/** Largest piece a streamed body is read in. */
const STREAM_PIECE = 1024 * 1024;

export class PipeTarSource implements TarByteSource {
  private buf: Buffer = EMPTY;
  private pos = 0;
  offset = 0;

  constructor(
    private readonly pipe: LayerPipe,
    private readonly compression: string,
  ) {}

  /** Corrupt compressed data is the layer's fault, whichever entry was being read. */
  private async call<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      throw compressionError(err, this.compression);
    }
  }

  private get buffered(): number {
    return this.buf.length - this.pos;
  }

  private take(n: number): Buffer {
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.offset += n;
    return out;
  }

  async read(n: number, what: string): Promise<Buffer | undefined> {
    if (this.buffered === 0 && what === 'header') {
      // At a header: the pipe frames the whole sequence (extension headers, their data, the header).
      this.buf = await this.call(this.pipe.next());
      this.pos = 0;
    }
    if (this.buffered >= n) return this.take(n);
    const have = this.take(this.buffered);
    const more = await this.call(this.pipe.read(n - have.length));
    const got = have.length + more.length;
    if (got === n) {
      this.offset += more.length;
      return have.length === 0 ? more : Buffer.concat([have, more]);
    }
    if (got === 0) return undefined;
    throw corrupt(this.offset + more.length, `truncated ${what}: expected ${n} bytes, got ${got}`);
  }

  async *stream(n: number, what: string): AsyncGenerator<Buffer> {
    let left = n;
    if (this.buffered > 0 && left > 0) {
      const out = this.take(Math.min(left, this.buffered));
      left -= out.length;
      yield out;
    }
    while (left > 0) {
      const out = await this.call(this.pipe.read(Math.min(left, STREAM_PIECE)));
      if (out.length === 0) throw corrupt(this.offset, `truncated ${what}: ${left} of ${n} bytes missing`);
      this.offset += out.length;
      left -= out.length;
      yield out;
    }
  }

  async skip(n: number, what: string): Promise<void> {
    const fromBuf = Math.min(n, this.buffered);
    this.take(fromBuf);
    if (n === fromBuf) return;
    const got = await this.call(this.pipe.skip(n - fromBuf));
    this.offset += got;
    if (got < n - fromBuf) throw corrupt(this.offset, `truncated ${what}: ${n - fromBuf - got} of ${n} bytes missing`);
  }

  /** The rest is read (and hashed) by LayerPipe.finish(). */
  async drain(): Promise<void> {
    this.take(this.buffered);
  }

  async toFile(n: number, pad: number, file: TarFileSpec, what: string): Promise<void> {
    // A body follows its header, which ends a header sequence: nothing of it can be buffered here.
    if (this.buffered !== 0) throw new InternalError(`tar: ${this.buffered} bytes buffered before ${what}`);
    try {
      this.buf = await this.call(this.pipe.file({ ...file, size: n, pad }));
    } catch (err) {
      if (err instanceof LayerPipeTruncated) {
        const at = this.offset + err.got + (err.part === 'padding' ? n : 0);
        throw corrupt(at, err.part === 'body' ? `truncated ${what}: ${err.want - err.got} of ${n} bytes missing` : `truncated padding after ${what.replace(/^body of /, '')}`);
      }
      throw err;
    }
    this.pos = 0;
    this.offset += n + pad;
  }
}
