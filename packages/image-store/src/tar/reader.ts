/**
 * A streaming tar reader: ustar, GNU long names/links (`L`/`K`) and base-256 numbers, and PAX
 * extended headers (`x`, `g`) including `SCHILY.xattr.*`. Entries are produced one at a time and their
 * bodies are streamed: nothing is held beyond one chunk of input. Limits bound header sizes and the
 * number of entries; truncated or corrupt input fails with an InvalidArgumentError that says where.
 */
import { InvalidArgumentError } from '@podkit/errdefs';
import { DEFAULT_TAR_LIMITS, TarEntryType, TarHeader, TarLimits } from './types';

const BLOCK = 512;

export function corrupt(offset: number, reason: string): InvalidArgumentError {
  return new InvalidArgumentError(`tar: ${reason} (at byte ${offset})`, { details: { field: 'layer', offset } });
}

/** What a regular file's body becomes when the source writes it itself (see TarByteSource.toFile). */
export interface TarFileSpec {
  path: string;
  chown: boolean;
  uid: number;
  gid: number;
  mode: number;
  mtime: number;
}

/**
 * Where readTarFrom gets its bytes. `read` returns exactly n bytes, or undefined at a clean end of
 * input (nothing left); `what` says what is read ('header' for a header block: a source may frame
 * headers itself). `toFile`, when present, writes the next n bytes into a new file and skips `pad`
 * bytes after them without handing them to JavaScript (the native layer pipe).
 */
export interface TarByteSource {
  readonly offset: number;
  read(n: number, what: string): Promise<Buffer | undefined>;
  stream(n: number, what: string): AsyncGenerator<Buffer>;
  skip(n: number, what: string): Promise<void>;
  drain(): Promise<void>;
  toFile?(n: number, pad: number, file: TarFileSpec, what: string): Promise<void>;
}

/** Pulls exact byte counts out of an async stream of chunks. */
class ByteSource implements TarByteSource {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private done = false;
  /** Bytes consumed from the archive so far. */
  offset = 0;

  constructor(private readonly it: AsyncIterator<Buffer | Uint8Array | string>) {}

  /** Replaces the (fully consumed) current chunk with the next one from the input. */
  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    this.buf = typeof r.value === 'string' ? Buffer.from(r.value) : Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    this.pos = 0;
    return true;
  }

  /** Exactly n bytes, or undefined at a clean end of input (nothing left); throws when cut in between. */
  async read(n: number, what: string): Promise<Buffer | undefined> {
    if (this.buf.length - this.pos >= n) {
      const out = this.buf.subarray(this.pos, this.pos + n);
      this.pos += n;
      this.offset += n;
      return out;
    }
    // Spans chunks: copy just these n bytes (not the rest of the next chunk, which may be large).
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      if (this.pos >= this.buf.length) {
        if (await this.fill()) continue;
        if (got === 0) return undefined;
        throw corrupt(this.offset + got, `truncated ${what}: expected ${n} bytes, got ${got}`);
      }
      const take = Math.min(n - got, this.buf.length - this.pos);
      this.buf.copy(out, got, this.pos, this.pos + take);
      this.pos += take;
      got += take;
    }
    this.offset += n;
    return out;
  }

  /** Yields the next n bytes in chunks as they arrive. */
  async *stream(n: number, what: string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.pos >= this.buf.length && !(await this.fill())) throw corrupt(this.offset, `truncated ${what}: ${left} of ${n} bytes missing`);
      const take = Math.min(left, this.buf.length - this.pos);
      const out = this.buf.subarray(this.pos, this.pos + take);
      this.pos += take;
      this.offset += take;
      left -= take;
      yield out;
    }
  }

  async skip(n: number, what: string): Promise<void> {
    for await (const _ of this.stream(n, what)) {
      /* discard */
    }
  }

  /** Reads whatever remains (used to drain padding after the end marker). */
  async drain(): Promise<void> {
    this.pos = this.buf.length;
    while (await this.fill()) this.pos = this.buf.length;
  }
}

function cstring(b: Buffer): string {
  const z = b.indexOf(0);
  return (z < 0 ? b : b.subarray(0, z)).toString('utf8');
}

function parseNumber(b: Buffer, field: string, offset: number): number {
  const first = b[0] ?? 0;
  if (first & 0x80) {
    // GNU base-256: big-endian two's complement in the remaining bits.
    if (first === 0xff) throw corrupt(offset, `negative base-256 ${field}`);
    let v = first & 0x7f;
    for (let i = 1; i < b.length; i++) {
      v = v * 256 + (b[i] ?? 0);
      if (v > Number.MAX_SAFE_INTEGER) throw corrupt(offset, `${field} too large`);
    }
    return v;
  }
  const s = cstring(b).replace(/ +$/, '').replace(/^ +/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw corrupt(offset, `invalid octal ${field} ${JSON.stringify(s)}`);
  const v = parseInt(s, 8);
  if (!Number.isSafeInteger(v)) throw corrupt(offset, `${field} too large`);
  return v;
}

function checksumOk(h: Buffer): boolean {
  const stored = cstring(h.subarray(148, 156)).trim();
  if (!/^[0-7]+$/.test(stored)) return false;
  const want = parseInt(stored, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : (h[i] ?? 0);
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return want === unsigned || want === signed;
}

interface PaxRecords {
  values: Map<string, string>;
  xattrs: Map<string, Buffer>;
}

/** Parses PAX records "<len> <key>=<value>\n"; values may be binary (xattrs), so lengths are bytes. */
export function parsePax(data: Buffer, offset: number): PaxRecords {
  const values = new Map<string, string>();
  const xattrs = new Map<string, Buffer>();
  let i = 0;
  while (i < data.length) {
    if (data[i] === 0) break; // NUL padding after the last record
    const sp = data.indexOf(0x20, i);
    if (sp < 0 || sp - i > 20) throw corrupt(offset, 'PAX record without a length');
    const lenStr = data.subarray(i, sp).toString('latin1');
    if (!/^[0-9]+$/.test(lenStr)) throw corrupt(offset, `PAX record length ${JSON.stringify(lenStr)} is not a number`);
    const len = parseInt(lenStr, 10);
    if (len <= sp - i + 1 || i + len > data.length || data[i + len - 1] !== 0x0a) throw corrupt(offset, 'PAX record length does not match its content');
    const rec = data.subarray(sp + 1, i + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw corrupt(offset, 'PAX record without key=value');
    const key = rec.subarray(0, eq).toString('utf8');
    const value = rec.subarray(eq + 1);
    if (key.startsWith('SCHILY.xattr.')) {
      const name = key.slice('SCHILY.xattr.'.length);
      if (name.length === 0) throw corrupt(offset, 'PAX xattr record without a name');
      xattrs.set(name, Buffer.from(value));
    } else if (key.startsWith('GNU.sparse.')) {
      throw corrupt(offset, `sparse files are not supported (PAX ${key})`);
    } else {
      values.set(key, value.toString('utf8'));
    }
    i += len;
  }
  return { values, xattrs };
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

function paxNumber(v: string, key: string, offset: number): number {
  if (!/^[0-9]+$/.test(v)) throw corrupt(offset, `PAX ${key} ${JSON.stringify(v)} is not a non-negative integer`);
  const n = parseInt(v, 10);
  if (!Number.isSafeInteger(n)) throw corrupt(offset, `PAX ${key} too large`);
  return n;
}

/** A regular file's body: iterate it, or (when the source can) have it written to a new file. */
export interface TarBody extends AsyncIterable<Buffer> {
  /** Present when the source writes bodies itself; consumes the body like an iteration. */
  toFile?: (file: TarFileSpec) => Promise<void>;
}

export interface TarEntry {
  header: TarHeader;
  /** The body: must be consumed (or skipped by moving on) before the next entry is read. */
  body: TarBody;
  /** Byte offset of the entry's header in the archive. */
  offset: number;
}

/**
 * Reads a tar stream entry by entry. The caller must finish with one entry's body before asking for
 * the next (an unread body is skipped).
 */
export function readTar(source: AsyncIterable<Buffer | Uint8Array | string>, limits: Partial<TarLimits> = {}): AsyncGenerator<TarEntry> {
  return readTarFrom(new ByteSource(source[Symbol.asyncIterator]()), limits);
}

/** readTar over any TarByteSource. */
export async function* readTarFrom(src: TarByteSource, limits: Partial<TarLimits> = {}): AsyncGenerator<TarEntry> {
  const lim: TarLimits = { ...DEFAULT_TAR_LIMITS, ...limits };
  let global: PaxRecords = { values: new Map(), xattrs: new Map() };
  let pax: PaxRecords | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  let entries = 0;
  let sawEntry = false;

  for (;;) {
    const start = src.offset;
    const h = await src.read(BLOCK, 'header');
    if (!h) {
      if (!sawEntry) throw corrupt(start, 'empty archive: no end-of-archive marker');
      // Archives without the two zero blocks exist in the wild; end here if no entry is half-read.
      if (pax || longName !== undefined || longLink !== undefined) throw corrupt(start, 'archive ends after an extended header');
      return;
    }
    if (h.every((c) => c === 0)) {
      // End of archive (one or two zero blocks); anything after is padding.
      if (pax || longName !== undefined || longLink !== undefined) throw corrupt(start, 'archive ends after an extended header');
      await src.drain();
      return;
    }
    sawEntry = true;
    if (!checksumOk(h)) throw corrupt(start, 'header checksum mismatch (corrupt or not a tar stream)');
    const magic = h.subarray(257, 263).toString('latin1');
    const isUstar = magic === 'ustar\0';
    const isGnu = magic === 'ustar ';
    const flagByte = h[156] ?? 0;
    const flag = String.fromCharCode(flagByte);
    const size = parseNumber(h.subarray(124, 136), 'size', start);
    const padded = Math.ceil(size / BLOCK) * BLOCK;

    if (flag === 'x' || flag === 'g') {
      if (size > lim.maxPaxHeaderSize) throw corrupt(start, `PAX header of ${size} bytes exceeds the limit of ${lim.maxPaxHeaderSize}`);
      const data = size === 0 ? Buffer.alloc(0) : await src.read(padded, 'PAX header');
      if (!data) throw corrupt(src.offset, 'truncated PAX header');
      const recs = parsePax(data.subarray(0, size), start);
      if (flag === 'g') global = { values: new Map([...global.values, ...recs.values]), xattrs: new Map([...global.xattrs, ...recs.xattrs]) };
      else pax = pax ? { values: new Map([...pax.values, ...recs.values]), xattrs: new Map([...pax.xattrs, ...recs.xattrs]) } : recs;
      continue;
    }
    if (flag === 'L' || flag === 'K') {
      if (size > lim.maxLongNameSize) throw corrupt(start, `GNU long ${flag === 'L' ? 'name' : 'link'} of ${size} bytes exceeds the limit of ${lim.maxLongNameSize}`);
      const data = await src.read(padded, 'GNU long name');
      if (!data) throw corrupt(src.offset, 'truncated GNU long name');
      const s = cstring(data.subarray(0, size));
      if (flag === 'L') longName = s;
      else longLink = s;
      continue;
    }
    const type = TYPES[flag];
    if (!type) {
      const shown = /^[ -~]$/.test(flag) ? `'${flag}'` : `0x${flagByte.toString(16)}`;
      throw corrupt(start, `unsupported entry type ${shown}${flag === 'S' ? ' (GNU sparse file)' : ''}`);
    }
    entries++;
    if (entries > lim.maxEntries) throw corrupt(start, `more than ${lim.maxEntries} entries`);

    let name = cstring(h.subarray(0, 100));
    if (isUstar) {
      const prefix = cstring(h.subarray(345, 500));
      if (prefix) name = `${prefix}/${name}`;
    }
    const header: TarHeader = {
      name,
      type,
      mode: parseNumber(h.subarray(100, 108), 'mode', start) & 0o7777,
      uid: parseNumber(h.subarray(108, 116), 'uid', start),
      gid: parseNumber(h.subarray(116, 124), 'gid', start),
      size,
      mtime: parseNumber(h.subarray(136, 148), 'mtime', start),
      linkname: cstring(h.subarray(157, 257)),
      uname: isUstar || isGnu ? cstring(h.subarray(265, 297)) : '',
      gname: isUstar || isGnu ? cstring(h.subarray(297, 329)) : '',
      devmajor: isUstar || isGnu ? parseNumber(h.subarray(329, 337), 'devmajor', start) : 0,
      devminor: isUstar || isGnu ? parseNumber(h.subarray(337, 345), 'devminor', start) : 0,
      xattrs: new Map(global.xattrs),
    };
    if (longName !== undefined) header.name = longName;
    if (longLink !== undefined) header.linkname = longLink;
    for (const recs of [global, pax]) {
      if (!recs) continue;
      const v = recs.values;
      const path = v.get('path');
      const linkpath = v.get('linkpath');
      const size = v.get('size');
      const uid = v.get('uid');
      const gid = v.get('gid');
      const uname = v.get('uname');
      const gname = v.get('gname');
      const m = v.get('mtime');
      if (path !== undefined) header.name = path;
      if (linkpath !== undefined) header.linkname = linkpath;
      if (size !== undefined) header.size = paxNumber(size, 'size', start);
      if (uid !== undefined) header.uid = paxNumber(uid, 'uid', start);
      if (gid !== undefined) header.gid = paxNumber(gid, 'gid', start);
      if (uname !== undefined) header.uname = uname;
      if (gname !== undefined) header.gname = gname;
      if (m !== undefined) {
        if (!/^-?[0-9]+(\.[0-9]+)?$/.test(m)) throw corrupt(start, `PAX mtime ${JSON.stringify(m)} is not a number`);
        header.mtime = parseFloat(m);
      }
      for (const [k, x] of recs === pax ? recs.xattrs : []) header.xattrs.set(k, x);
    }
    pax = undefined;
    longName = undefined;
    longLink = undefined;
    if (header.name.length === 0) throw corrupt(start, 'entry with an empty name');
    if (header.name.includes('\0') || header.linkname.includes('\0')) throw corrupt(start, 'entry name with a NUL byte');
    // Only regular files carry data; a size on a link or directory would desynchronise the stream.
    const bodySize = type === 'file' ? header.size : 0;
    if (type !== 'file' && header.size !== 0 && type !== 'hardlink') {
      throw corrupt(start, `${type} entry ${JSON.stringify(header.name)} has a size of ${header.size}`);
    }
    const skipBytes = type === 'hardlink' ? Math.ceil(header.size / BLOCK) * BLOCK : Math.ceil(bodySize / BLOCK) * BLOCK;
    if (type === 'hardlink') header.size = 0;

    let consumed = false;
    let bodyDone = false;
    const what = `body of ${JSON.stringify(header.name)}`;
    const body: TarBody = {
      [Symbol.asyncIterator]: () => {
        if (consumed) throw new Error('tar: entry body read twice');
        consumed = true;
        return src.stream(bodySize, what)[Symbol.asyncIterator]();
      },
    };
    const toFile = src.toFile?.bind(src);
    if (toFile && type === 'file') {
      body.toFile = async (file) => {
        if (consumed) throw new Error('tar: entry body read twice');
        consumed = true;
        await toFile(bodySize, skipBytes - bodySize, file, what);
        bodyDone = true;
      };
    }
    const bodyStart = src.offset;
    yield { header, body, offset: start };
    if (bodyDone) continue;
    // Skip what the consumer did not read, then the padding to the next block.
    const read = src.offset - bodyStart;
    if (read < bodySize) await src.skip(bodySize - read, what);
    const pad = skipBytes - bodySize;
    if (pad > 0) {
      const p = await src.read(pad, 'padding');
      if (!p) throw corrupt(src.offset, `truncated padding after ${JSON.stringify(header.name)}`);
    }
  }
}
