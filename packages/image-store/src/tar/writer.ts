/**
 * A small tar writer (ustar, with PAX headers when a field does not fit or xattrs are present, or GNU
 * long names on request). Used by the tests and by tools/ to build layers; not on the pull path.
 */
import { TarEntryType } from './types';

const BLOCK = 512;

export interface TarWriteEntry {
  name: string;
  type?: TarEntryType;
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, Buffer | string>;
  /** Body of a regular file. */
  data?: Buffer | string;
  /** Size when the body is streamed separately (writeHeader + data + pad). */
  size?: number;
}

export interface TarWriteOptions {
  /** Write long names with GNU `L`/`K` records instead of PAX. */
  gnuLongNames?: boolean;
}

const FLAGS: Record<TarEntryType, string> = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

function octal(n: number, width: number): string | undefined {
  const s = Math.floor(n).toString(8);
  return s.length > width - 1 ? undefined : s.padStart(width - 1, '0');
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function rawHeader(name: string, flag: string, e: TarWriteEntry, size: number, linkname: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(e.mode ?? (e.type === 'dir' ? 0o755 : 0o644), 8) ?? '0000000', 100, 'latin1');
  h.write(octal(e.uid ?? 0, 8) ?? '0000000', 108, 'latin1');
  h.write(octal(e.gid ?? 0, 8) ?? '0000000', 116, 'latin1');
  h.write(octal(size, 12) ?? '00000000000', 124, 'latin1');
  h.write(octal(e.mtime ?? 0, 12) ?? '00000000000', 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write(flag, 156, 'latin1');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\u000000', 257, 'latin1');
  h.write(e.uname ?? '', 265, 32, 'utf8');
  h.write(e.gname ?? '', 297, 32, 'utf8');
  h.write(octal(e.devmajor ?? 0, 8) ?? '0000000', 329, 'latin1');
  h.write(octal(e.devminor ?? 0, 8) ?? '0000000', 337, 'latin1');
  let sum = 0;
  for (const c of h) sum += c;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function padTo(n: number): Buffer {
  const r = n % BLOCK;
  return Buffer.alloc(r === 0 ? 0 : BLOCK - r);
}

/** The header block(s) of one entry (including PAX or GNU records when needed). */
export function tarHeader(e: TarWriteEntry, opts: TarWriteOptions = {}): Buffer {
  const type = e.type ?? 'file';
  const size = type === 'file' ? (e.size ?? (e.data === undefined ? 0 : Buffer.byteLength(e.data))) : 0;
  const linkname = e.linkname ?? '';
  const out: Buffer[] = [];
  const pax: Buffer[] = [];
  let name = e.name;
  let link = linkname;
  const nameFits = Buffer.byteLength(name) <= 100;
  const linkFits = Buffer.byteLength(link) <= 100;
  if (opts.gnuLongNames) {
    for (const [flag, v, fits] of [['L', name, nameFits], ['K', link, linkFits]] as const) {
      if (fits) continue;
      const data = Buffer.from(`${v}\0`);
      out.push(rawHeader('././@LongLink', flag, { name: '' }, data.length, ''), data, padTo(data.length));
    }
    name = nameFits ? name : name.slice(0, 100);
    link = linkFits ? link : link.slice(0, 100);
  } else {
    if (!nameFits) {
      pax.push(paxRecord('path', Buffer.from(name)));
      name = name.slice(0, 100);
    }
    if (!linkFits) {
      pax.push(paxRecord('linkpath', Buffer.from(link)));
      link = link.slice(0, 100);
    }
  }
  if (octal(size, 12) === undefined) pax.push(paxRecord('size', Buffer.from(String(size))));
  if (octal(e.uid ?? 0, 8) === undefined) pax.push(paxRecord('uid', Buffer.from(String(e.uid))));
  if (octal(e.gid ?? 0, 8) === undefined) pax.push(paxRecord('gid', Buffer.from(String(e.gid))));
  if (e.mtime !== undefined && !Number.isInteger(e.mtime)) pax.push(paxRecord('mtime', Buffer.from(e.mtime.toFixed(9))));
  for (const [k, v] of Object.entries(e.xattrs ?? {})) pax.push(paxRecord(`SCHILY.xattr.${k}`, Buffer.isBuffer(v) ? v : Buffer.from(v)));
  if (pax.length > 0) {
    const data = Buffer.concat(pax);
    out.push(rawHeader(`PaxHeaders/${e.name.slice(0, 80)}`, 'x', { name: '' }, data.length, ''), data, padTo(data.length));
  }
  out.push(rawHeader(name, FLAGS[type], e, size, link));
  return Buffer.concat(out);
}

/** Padding after a body of `size` bytes. */
export function tarPadding(size: number): Buffer {
  return padTo(size);
}

/** The end-of-archive marker (two zero blocks). */
export function tarEnd(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

/** A whole archive in memory (tests and small layers). */
export function buildTar(entries: TarWriteEntry[], opts: TarWriteOptions = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(tarHeader(e, opts));
    if ((e.type ?? 'file') === 'file' && e.data !== undefined) {
      const d = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
      parts.push(d, padTo(d.length));
    }
  }
  parts.push(tarEnd());
  return Buffer.concat(parts);
}
