/**
 * Where an import reads from: an OCI image layout directory, or a tar archive (oci-archive or a
 * `docker save` archive) read in place. A tar is scanned once for its entries' offsets (C's streaming
 * tar reader, bodies skipped) and then read by ranges, so nothing is extracted to disk first.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { InvalidArgumentError, NotFoundError, ResourceExhaustedError } from '@podkit/errdefs';
import { Descriptor, parseDigest } from '@podkit/oci-spec';
import { readTar } from '../tar/reader';

/** An image found in a layout or archive. */
export interface SourceImage {
  /** The name it carries: a full reference, a bare tag (OCI `ref.name`), or undefined. */
  name?: string;
  root: Descriptor;
}

/** Files of a layout: a directory or a tar archive. */
export interface FileSource {
  /** Human name, for messages. */
  readonly what: string;
  has(rel: string): Promise<boolean>;
  size(rel: string): Promise<number>;
  stream(rel: string): AsyncIterable<Buffer>;
  /** A small file, whole (index.json, manifest.json, configs); refused above `max` bytes. */
  read(rel: string, max?: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** Blobs by digest, with the images of the source. */
export interface BlobSource {
  readonly what: string;
  readonly images: SourceImage[];
  /** Reads a blob (not verified here: the importer checks it against the descriptor). */
  open(desc: Descriptor): AsyncIterable<Buffer>;
  /** A small blob (manifests, configs), whole. */
  read(desc: Descriptor, max?: number): Promise<Buffer>;
  close(): Promise<void>;
}

const SMALL = 16 * 1024 * 1024;

/** Clean relative path of an archive member: `./a//b` → `a/b`; refuses `..` and absolute paths. */
export function cleanMember(name: string): string | undefined {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return undefined;
  return parts.join('/');
}

export class DirSource implements FileSource {
  constructor(readonly dir: string) {}

  get what(): string {
    return this.dir;
  }

  private resolve(rel: string): string {
    const clean = cleanMember(rel);
    if (clean === undefined || clean.length === 0) throw new InvalidArgumentError(`${this.dir}: bad path ${JSON.stringify(rel)}`, { details: { field: 'path' } });
    return path.join(this.dir, clean);
  }

  async has(rel: string): Promise<boolean> {
    return fsp.lstat(this.resolve(rel)).then(
      (st) => st.isFile(),
      () => false,
    );
  }

  async size(rel: string): Promise<number> {
    try {
      return (await fsp.stat(this.resolve(rel))).size;
    } catch {
      throw new NotFoundError(`${this.dir}: ${rel} is missing`, { details: { field: rel } });
    }
  }

  async *stream(rel: string): AsyncGenerator<Buffer> {
    const p = this.resolve(rel);
    if (!(await this.has(rel))) throw new NotFoundError(`${this.dir}: ${rel} is missing`, { details: { field: rel } });
    for await (const c of fs.createReadStream(p, { highWaterMark: 256 * 1024 })) yield c as Buffer;
  }

  async read(rel: string, max = SMALL): Promise<Buffer> {
    const n = await this.size(rel);
    if (n > max) throw new ResourceExhaustedError(`${this.dir}: ${rel} has ${n} bytes, more than the limit of ${max}`, { details: { field: rel } });
    return fsp.readFile(this.resolve(rel));
  }

  async close(): Promise<void> {
    /* nothing held */
  }
}

interface Member {
  dataOffset: number;
  size: number;
}

export class TarSource implements FileSource {
  private constructor(
    readonly file: string,
    private readonly members: Map<string, Member>,
  ) {}

  get what(): string {
    return this.file;
  }

  /** Scans the archive once (regular files only; links and directories are not needed for layouts). */
  static async open(file: string): Promise<TarSource> {
    const members = new Map<string, Member>();
    for await (const e of readTar(fs.createReadStream(file, { highWaterMark: 1024 * 1024 }))) {
      if (e.header.type !== 'file') continue;
      const name = cleanMember(e.header.name);
      if (name === undefined || name.length === 0) throw new InvalidArgumentError(`${file}: member ${JSON.stringify(e.header.name)} escapes the archive`, { details: { field: 'path' } });
      // The header block that carried the name is the last 512 bytes before the body.
      members.set(name, { dataOffset: e.offset + 512, size: e.header.size });
    }
    return new TarSource(file, members);
  }

  names(): string[] {
    return [...this.members.keys()];
  }

  private member(rel: string): Member {
    const m = this.members.get(cleanMember(rel) ?? '');
    if (!m) throw new NotFoundError(`${this.file}: no member ${rel}`, { details: { field: rel } });
    return m;
  }

  async has(rel: string): Promise<boolean> {
    return this.members.has(cleanMember(rel) ?? '');
  }

  async size(rel: string): Promise<number> {
    return this.member(rel).size;
  }

  async *stream(rel: string): AsyncGenerator<Buffer> {
    const m = this.member(rel);
    if (m.size === 0) return;
    for await (const c of fs.createReadStream(this.file, { start: m.dataOffset, end: m.dataOffset + m.size - 1, highWaterMark: 256 * 1024 })) yield c as Buffer;
  }

  async read(rel: string, max = SMALL): Promise<Buffer> {
    const m = this.member(rel);
    if (m.size > max) throw new ResourceExhaustedError(`${this.file}: ${rel} has ${m.size} bytes, more than the limit of ${max}`, { details: { field: rel } });
    const fh = await fsp.open(this.file, 'r');
    try {
      const buf = Buffer.alloc(m.size);
      let off = 0;
      while (off < m.size) {
        const { bytesRead } = await fh.read(buf, off, m.size - off, m.dataOffset + off);
        if (bytesRead === 0) throw new InvalidArgumentError(`${this.file}: ${rel} is truncated`, { details: { field: rel } });
        off += bytesRead;
      }
      return buf;
    } finally {
      await fh.close();
    }
  }

  async close(): Promise<void> {
    /* nothing held between reads */
  }
}

/** `blobs/<alg>/<hex>` of a digest. */
export function blobMember(digest: string): string {
  const { algorithm, encoded } = parseDigest(digest);
  return `blobs/${algorithm}/${encoded}`;
}
