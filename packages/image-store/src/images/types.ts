import { Descriptor, Digest, Platform } from '@podkit/oci-spec';

/** What the store keeps for one image name (reference → manifest). */
export interface ImageRecord {
  /** The full reference: `docker.io/library/busybox:latest`. */
  name: string;
  /** What the name resolved to: a manifest, or an index (then `manifest` is the platform's one). */
  target: Descriptor;
  /** The image manifest used on this platform. */
  manifest: Descriptor;
  /** The image id (the config's digest). */
  id: Digest;
  config: Descriptor;
  layers: Descriptor[];
  diffIds: Digest[];
  platform: Platform;
  /** Other manifests an index referenced that we stored (none today: only the selected one is kept). */
  createdAt: string;
  updatedAt: string;
}

export type PullEvent =
  | { type: 'resolved'; name: string; digest: Digest; mediaType: string }
  | { type: 'layer'; digest: Digest; status: 'waiting' | 'downloading' | 'resuming' | 'exists' | 'done'; done: number; total: number }
  | { type: 'done'; name: string; id: Digest };
