/**
 * The byte-moving half of a layer pull on a native thread (native/src/addon/layerpipe.cc): compressed
 * bytes in; the blob digest, gunzip, the diff ID, tar framing and regular files' bodies written to
 * files — all off the JS thread. The caller (image-store) parses every header and makes every
 * decision about paths; this only moves bytes.
 *
 * One request at a time (`next`, `read`, `skip`, `file`, `finish`); `write` may run beside them (the
 * input side). Errors: syscalls become errdefs classes (`fromErrno`, with the path); corrupt gzip
 * throws an Error whose `code` is the zlib code (`Z_DATA_ERROR`, `Z_BUF_ERROR` for a cut stream);
 * input ending inside a body throws {@link LayerPipeTruncated}; after `abort(err)` pending and later
 * requests throw `err`.
 */
import { FailedPreconditionError, invalidField } from '@podkit/errdefs';
import { loadNative } from './native';
import { nativeError } from './native-errors';

interface NativeLayerPipe {
  write(buf: Buffer): Promise<void>;
  end(): void;
  abort(): void;
  next(): Promise<Buffer>;
  read(n: number): Promise<Buffer>;
  skip(n: number): Promise<number>;
  file(spec: { path: string; size: number; pad: number; chown: boolean; uid: number; gid: number; mode: number; sec: number; nsec: number }): Promise<Buffer>;
  finish(): Promise<LayerPipeDigests>;
  close(): void;
}

interface LayerPipeCtor {
  new (opts: { gzip: boolean; maxPax: number; maxLongName: number; ingestFd?: number; ingestKeep?: number }): NativeLayerPipe;
  available: boolean;
  missing: string;
}

interface LayerPipeBinding {
  LayerPipe?: LayerPipeCtor;
}

export interface LayerPipeOptions {
  compression: 'gzip' | 'none';
  /** Largest PAX header (bytes) framed as part of a header sequence; a larger one is left for the caller to refuse. */
  maxPaxHeaderSize: number;
  /** Largest GNU long name / link (bytes), likewise. */
  maxLongNameSize: number;
  /**
   * Also append the input, as the pipe's thread takes it, to this open file (a content store
   * ingestion) at its byte position in the stream; the first `keep` bytes are already there and are
   * only hashed. The descriptor must stay open until finish() or close().
   */
  ingest?: { fd: number; keep: number };
}

export interface LayerPipeDigests {
  /** sha256 of every byte written (the blob). */
  compressedDigest: string;
  compressedSize: number;
  /** sha256 of the uncompressed stream, padding after the tar's end included (the diff ID). */
  diffId: string;
  size: number;
}

export interface LayerFileSpec {
  /** Host path of a file that must not exist (created O_EXCL|O_NOFOLLOW, mode 0600 until `mode` is set). */
  path: string;
  /** Body bytes, then padding bytes skipped after it. */
  size: number;
  pad: number;
  /** Set owner to uid:gid (before the mode: chown clears set-id bits). */
  chown: boolean;
  uid: number;
  gid: number;
  mode: number;
  /** Access and modification time, seconds since the epoch (fractional). */
  mtime: number;
}

/** The input ended inside a file's body (`got` of `want` bytes) or its padding. */
export class LayerPipeTruncated extends Error {
  constructor(
    readonly part: 'body' | 'padding',
    readonly got: number,
    readonly want: number,
  ) {
    super(`truncated ${part}: ${got} of ${want} bytes`);
  }
}

/** Whether this addon build and this Node have what LayerPipe needs; `reason` when not. */
export function layerPipeSupport(): { available: boolean; reason?: string } {
  let ctor: LayerPipeCtor | undefined;
  try {
    ctor = loadNative<LayerPipeBinding>().LayerPipe;
  } catch (err) {
    return { available: false, reason: (err as Error).message };
  }
  if (!ctor) return { available: false, reason: 'the native addon predates LayerPipe: rebuild it with `npm run build`' };
  if (!ctor.available) return { available: false, reason: `this Node does not export ${ctor.missing}` };
  return { available: true };
}

const U32 = 0xffffffff;
/** Largest read(): 16 MiB. */
const MAX_READ = 16 * 1024 * 1024;

export class LayerPipe {
  private readonly native: NativeLayerPipe;
  private abortReason: unknown;
  private closed = false;

  constructor(opts: LayerPipeOptions) {
    const support = layerPipeSupport();
    if (!support.available) throw new FailedPreconditionError(`layer pipe: ${support.reason}`);
    if (opts.compression !== 'gzip' && opts.compression !== 'none') throw invalidField('compression', `must be gzip or none, got ${String(opts.compression)}`);
    const Ctor = loadNative<LayerPipeBinding>().LayerPipe as LayerPipeCtor;
    if (opts.ingest && (!Number.isInteger(opts.ingest.fd) || opts.ingest.fd < 0)) throw invalidField('ingest.fd', `must be an open file descriptor, got ${opts.ingest.fd}`);
    if (opts.ingest && (!Number.isSafeInteger(opts.ingest.keep) || opts.ingest.keep < 0)) throw invalidField('ingest.keep', `must be a byte count, got ${opts.ingest.keep}`);
    this.native = new Ctor({
      gzip: opts.compression === 'gzip',
      maxPax: opts.maxPaxHeaderSize,
      maxLongName: opts.maxLongNameSize,
      ...(opts.ingest ? { ingestFd: opts.ingest.fd, ingestKeep: opts.ingest.keep } : {}),
    });
  }

  /** Hands over compressed input (copied); resolves when there is room for more. Throws after close(). */
  async write(buf: Buffer): Promise<void> {
    if (this.closed) throw new FailedPreconditionError('layer pipe: write after close');
    if (this.abortReason !== undefined) throw new FailedPreconditionError('layer pipe: write after abort');
    await this.native.write(buf);
  }

  /** No more input. */
  end(): void {
    if (!this.closed) this.native.end();
  }

  /** The input failed: pending and later requests throw `reason`. */
  abort(reason: unknown): void {
    this.abortReason ??= reason;
    if (!this.closed) this.native.abort();
  }

  /** The next header sequence (empty at a clean end of input). */
  next(): Promise<Buffer> {
    return this.call(() => this.native.next(), 'read tar header');
  }

  /** `n` bytes, fewer only at the end of input. */
  read(n: number): Promise<Buffer> {
    // The pipe's buffer grows to hold n bytes: callers read headers and pieces, never whole bodies.
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_READ) return Promise.reject(invalidField('n', `must be a byte count up to ${MAX_READ}, got ${n}`));
    return this.call(() => this.native.read(n), 'read layer');
  }

  /** Drops `n` bytes; resolves with how many there were (fewer at the end of input). */
  skip(n: number): Promise<number> {
    return this.call(() => this.native.skip(n), 'skip layer bytes');
  }

  /** Writes the next `spec.size` bytes into a new file; resolves with the next header sequence. */
  async file(spec: LayerFileSpec): Promise<Buffer> {
    for (const k of ['uid', 'gid'] as const) if (!Number.isInteger(spec[k]) || spec[k] < 0 || spec[k] > U32) throw invalidField(k, `must be an integer in 0..${U32}, got ${spec[k]}`);
    if (!Number.isFinite(spec.mtime)) throw invalidField('mtime', `must be a finite number, got ${spec.mtime}`);
    let sec = Math.floor(spec.mtime);
    let nsec = Math.round((spec.mtime - sec) * 1e9);
    if (nsec >= 1e9) {
      sec += 1;
      nsec -= 1e9;
    }
    return this.call(
      () => this.native.file({ path: spec.path, size: spec.size, pad: spec.pad, chown: spec.chown, uid: spec.uid, gid: spec.gid, mode: spec.mode & 0o7777, sec, nsec }),
      `write ${spec.path}`,
    );
  }

  /** Reads the rest of the input; both digests and sizes. */
  finish(): Promise<LayerPipeDigests> {
    return this.call(() => this.native.finish(), 'finish layer');
  }

  /** Stops the native thread; safe at any time and more than once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close();
  }

  private async call<T>(fn: () => Promise<T>, context: string): Promise<T> {
    if (this.closed) throw new FailedPreconditionError(`layer pipe: ${context} after close`);
    try {
      return await fn();
    } catch (err) {
      const e = err as { code?: string; zcode?: string; part?: string; got?: number; want?: number; message?: string };
      if (e.code === 'aborted' && this.abortReason !== undefined) throw this.abortReason;
      if (e.code === 'errno') throw nativeError(err, context);
      if (e.code === 'zlib') throw Object.assign(new Error(e.message ?? 'invalid gzip data'), { code: e.zcode });
      if (e.code === 'truncated') throw new LayerPipeTruncated(e.part === 'padding' ? 'padding' : 'body', e.got ?? 0, e.want ?? 0);
      throw err;
    }
  }
}
