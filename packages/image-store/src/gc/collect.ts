/**
 * Garbage collection: mark and sweep over content and snapshots, as containerd's metadata GC does.
 *
 * Roots: every image record (its index or manifest, config and layer blobs, and the committed
 * snapshots of its layer chain), every active or view snapshot (a container's writable layer or a
 * view, with its whole parent chain), and everything named by a live lease (pulls in progress).
 * Everything else is swept: snapshots children first, then blobs. A blob committed after the GC
 * started is never removed, which keeps a pull in another process that has not taken its lease yet
 * out of harm's way.
 */
import { isFailedPrecondition, isNotFound } from '@podkit/errdefs';
import type { ContentStore } from '../content/store';
import type { ImageRecord } from '../images/types';
import { chainIds } from '../snapshot/chain';
import type { OverlaySnapshotter } from '../snapshot/overlay';
import { liveLeases } from './leases';

export interface GcSources {
  /** The store root that holds `leases/`. */
  root: string;
  content: ContentStore;
  snapshotter: OverlaySnapshotter;
  images: () => Promise<ImageRecord[]>;
}

export interface GcReport {
  removedBlobs: Array<{ digest: string; size: number }>;
  removedSnapshots: Array<{ name: string; size: number }>;
  bytesFreed: number;
  durationMs: number;
}

export async function collectGarbage(src: GcSources): Promise<GcReport> {
  const started = Date.now();
  const keepBlobs = new Set<string>();
  const rootSnapshots = new Set<string>();

  for (const lease of await liveLeases(src.root)) {
    lease.digests.forEach((d) => keepBlobs.add(d));
    lease.snapshots.forEach((s) => rootSnapshots.add(s));
  }
  for (const img of await src.images()) {
    for (const d of [img.target, img.manifest, img.config, ...img.layers]) keepBlobs.add(d.digest);
    if (img.diffIds.length > 0) chainIds(img.diffIds).forEach((c) => rootSnapshots.add(c));
  }
  const all = await src.snapshotter.walk();
  const byName = new Map(all.map((s) => [s.name, s]));
  for (const s of all) if (s.kind !== 'committed') rootSnapshots.add(s.name);

  // Mark: each root and its parent chain.
  const marked = new Set<string>();
  for (const r of rootSnapshots) {
    for (let n: string | undefined = r; n !== undefined && !marked.has(n); n = byName.get(n)?.parent) {
      if (byName.has(n)) marked.add(n);
    }
  }

  // Sweep snapshots, children first: repeat until nothing more can go.
  const report: GcReport = { removedBlobs: [], removedSnapshots: [], bytesFreed: 0, durationMs: 0 };
  let pending = all.filter((s) => !marked.has(s.name));
  while (pending.length > 0) {
    const parents = new Set(pending.map((s) => s.parent).filter((p): p is string => p !== undefined));
    const leaves = pending.filter((s) => !parents.has(s.name));
    if (leaves.length === 0) break;
    for (const s of leaves) {
      const { size } = await src.snapshotter.usage(s.name).catch(() => ({ size: 0 }));
      try {
        await src.snapshotter.remove(s.name);
        report.removedSnapshots.push({ name: s.name, size });
        report.bytesFreed += size;
      } catch (err) {
        // A child appeared meanwhile (a container prepared on it) or it is already gone: leave it.
        if (!isFailedPrecondition(err) && !isNotFound(err)) throw err;
      }
    }
    const gone = new Set(leaves.map((s) => s.name));
    pending = pending.filter((s) => !gone.has(s.name));
  }

  // Sweep content.
  for await (const blob of src.content.walk()) {
    if (keepBlobs.has(blob.digest) || blob.createdAt.getTime() >= started - 1000) continue;
    try {
      await src.content.delete(blob.digest);
      report.removedBlobs.push({ digest: blob.digest, size: blob.size });
      report.bytesFreed += blob.size;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  report.durationMs = Date.now() - started;
  return report;
}
