/**
 * Streaming zstd decompression for `+zstd` layers (and zstd:chunked ones, which are plain zstd frames
 * followed by skippable frames holding the table of contents: read as plain zstd, the TOC is skipped).
 *
 * Node 20's zlib has no zstd. In order of preference:
 * 1. `zlib.createZstdDecompress` where the running Node has it (22.15+);
 * 2. the `zstd` program (Debian package zstd) when it is on PATH, as containerd uses `unpigz` for gzip:
 *    native speed, and on its own CPU, beside the extraction in Node;
 * 3. fzstd (MIT, pure JS, ~30 KiB), fed chunk by chunk: memory stays bounded by the frame's window plus
 *    one input chunk, whatever the layer size.
 * `PODKIT_ZSTD=js` forces the pure-JS decoder, `PODKIT_ZSTD=/path/to/zstd` names the program.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
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

let zstdProgram: string | null | undefined;

/** The zstd program to use, or null: `PODKIT_ZSTD` if it names a file, else `zstd` on PATH (looked up once). */
export function findZstdProgram(env: NodeJS.ProcessEnv = process.env): string | null {
  const forced = env['PODKIT_ZSTD'];
  if (forced === 'js') return null;
  if (forced && forced.includes('/')) return fs.existsSync(forced) ? forced : null;
  if (zstdProgram !== undefined && env === process.env) return zstdProgram;
  let found: string | null = null;
  for (const dir of (env['PATH'] ?? '/usr/bin:/bin').split(':')) {
    if (!dir) continue;
    const p = path.join(dir, 'zstd');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      found = p;
      break;
    } catch {
      /* not here */
    }
  }
  if (env === process.env) zstdProgram = found;
  return found;
}

/** Decompresses through the zstd program (`zstd -d -c`), streaming both ways. */
export async function* zstdDecompressProgram(src: AsyncIterable<Buffer | Uint8Array>, program: string): AsyncGenerator<Buffer> {
  const child = spawn(program, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-2000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  spawnError.catch(() => undefined);
  let inputError: unknown;
  pipeline(Readable.from(src, { objectMode: false, highWaterMark: 1 }), child.stdin, (err) => {
    // EPIPE: zstd stopped reading (bad data); its exit status says why.
    if (err && (err as NodeJS.ErrnoException).code !== 'EPIPE') inputError = err;
  });
  let finished = false;
  try {
    for await (const c of child.stdout) yield c as Buffer;
    const { code, signal } = await Promise.race([exited, spawnError]);
    finished = true;
    if (inputError) throw inputError;
    if (code !== 0) {
      const why = stderr.trim().split('\n').pop()?.replace(/^zstd: (\/\*stdin\*\\: )?/, '') ?? '';
      throw new InvalidArgumentError(`zstd: ${why || `exit ${code ?? signal}`}`, { details: { field: 'layer' } });
    }
  } finally {
    // The consumer stopped early (or failed): do not leave the process behind.
    if (!finished && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }
}

/** Decompresses a zstd stream (native zlib when the runtime has it, else the zstd program, else fzstd). */
export function zstdDecompress(src: AsyncIterable<Buffer | Uint8Array>, opts: { preferJs?: boolean } = {}): AsyncIterable<Buffer> {
  if (opts.preferJs) return zstdDecompressJs(src);
  const native = nativeZstd();
  if (native) {
    const z = native();
    pipeline(Readable.from(src, { objectMode: false, highWaterMark: 1 }), z, () => {
      /* errors surface through the iteration of z */
    });
    return z;
  }
  const program = findZstdProgram();
  return program ? zstdDecompressProgram(src, program) : zstdDecompressJs(src);
}
