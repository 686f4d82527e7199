/**
 * The snapshotter's vocabulary (containerd's `core/snapshots` is the model):
 *
 * - key: the name of an active or view snapshot, chosen by the caller (a container id, "extract-…").
 * - name: the name a snapshot gets when it is committed (for image layers: the layer's chain ID).
 * - parent: the name of a committed snapshot a new one is built on; "" or undefined for none.
 * - kind: `active` (writable, the tutorial's `upper` + `work`), `view` (read-only), `committed`
 *   (read-only, may be a parent).
 *
 * A snapshotter never mounts: `prepare`, `view` and `mounts` return `MountDescriptor`s that the
 * composer mounts at a bundle's rootfs and unmounts after the container is deleted.
 */
import type { MountDescriptor } from './mount-descriptor';

export type SnapshotKind = 'active' | 'view' | 'committed';

export interface SnapshotInfo {
  /** The key (active, view) or name (committed). */
  name: string;
  kind: SnapshotKind;
  /** Name of the committed parent, or undefined. */
  parent?: string;
  labels: Record<string, string>;
  created: string;
  updated: string;
}

export interface Usage {
  /** Bytes used by the snapshot's own files (not its parents'). */
  size: number;
  inodes: number;
}

export interface WalkFilter {
  kind?: SnapshotKind;
  parent?: string;
  /** Every label given must be present with this value. */
  labels?: Record<string, string>;
}

export interface Snapshotter {
  stat(key: string): Promise<SnapshotInfo>;
  prepare(key: string, parent?: string, opts?: { labels?: Record<string, string> }): Promise<MountDescriptor[]>;
  view(key: string, parent?: string, opts?: { labels?: Record<string, string> }): Promise<MountDescriptor[]>;
  mounts(key: string): Promise<MountDescriptor[]>;
  commit(name: string, key: string, opts?: { labels?: Record<string, string> }): Promise<SnapshotInfo>;
  remove(key: string): Promise<void>;
  walk(filter?: WalkFilter): Promise<SnapshotInfo[]>;
  usage(key: string): Promise<Usage>;
}
