/**
 * A comparable description of a directory tree: for every path its type, mode (with setuid, setgid,
 * sticky), owner, size, link target, device number, xattrs and a content hash. Symlinks are never
 * followed; hardlinked files are listed under each name.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getAllXattrs } from '@podkit/runtime-core/sys';

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  mode: string;
  uid: number;
  gid: number;
  size?: number;
  link?: string;
  rdev?: number;
  sha256?: string;
  xattrs: Record<string, string>;
}

function typeOf(st: fs.Stats): TreeEntry['type'] {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

export async function describeTree(root: string): Promise<Map<string, TreeEntry>> {
  const out = new Map<string, TreeEntry>();
  const walk = async (rel: string): Promise<void> => {
    const host = path.join(root, rel);
    const st = fs.lstatSync(host);
    const type = typeOf(st);
    const xattrs: Record<string, string> = {};
    // Sorted: listxattr's order depends on the file system's internals, not on the content.
    for (const [k, v] of [...(await getAllXattrs(host))].sort((x, y) => x[0].localeCompare(y[0]))) xattrs[k] = v.toString('base64');
    const e: TreeEntry = { type, mode: (st.mode & 0o7777).toString(8), uid: st.uid, gid: st.gid, xattrs };
    if (type === 'file') {
      e.size = st.size;
      e.sha256 = crypto.createHash('sha256').update(fs.readFileSync(host)).digest('hex');
    }
    if (type === 'symlink') e.link = fs.readlinkSync(host);
    if (type === 'char' || type === 'block') e.rdev = st.rdev;
    out.set(rel === '' ? '.' : rel, e);
    if (type === 'dir') for (const name of fs.readdirSync(host).sort()) await walk(rel === '' ? name : `${rel}/${name}`);
  };
  await walk('');
  return out;
}

/** Differences between two trees, one line each (empty when equal). */
export function diffTrees(a: Map<string, TreeEntry>, b: Map<string, TreeEntry>, names = ['podimg', 'umoci']): string[] {
  const out: string[] = [];
  for (const [p, e] of a) {
    const f = b.get(p);
    if (!f) {
      out.push(`${p}: only in ${names[0]}`);
      continue;
    }
    const x = JSON.stringify(e);
    const y = JSON.stringify(f);
    if (x !== y) out.push(`${p}: ${names[0]} ${x} != ${names[1]} ${y}`);
  }
  for (const p of b.keys()) if (!a.has(p)) out.push(`${p}: only in ${names[1]}`);
  return out;
}
