/** The entry types a layer may hold (OCI image-spec, "Changesets"). */
export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

/** One tar entry's header, after PAX and GNU long-name records were applied. */
export interface TarHeader {
  /** Path as written in the archive (not cleaned: the extractor validates it). */
  name: string;
  type: TarEntryType;
  /** Permission bits including setuid, setgid and sticky (0..0o7777). */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Size of the body in bytes (0 for everything but regular files). */
  size: number;
  /** Modification time in seconds since the epoch (fractional with PAX). */
  mtime: number;
  /** Target of a symlink or hardlink. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from PAX `SCHILY.xattr.*` records. */
  xattrs: Map<string, Buffer>;
}

export interface TarLimits {
  /** Largest PAX extended header accepted (bytes). */
  maxPaxHeaderSize: number;
  /** Largest GNU long name / long link record accepted (bytes). */
  maxLongNameSize: number;
  /** Most entries accepted in one archive. */
  maxEntries: number;
}

export const DEFAULT_TAR_LIMITS: TarLimits = {
  maxPaxHeaderSize: 1024 * 1024,
  maxLongNameSize: 64 * 1024,
  maxEntries: 1_000_000,
};
