/**
 * The demo's view of image-store's snapshots: prepare a writable snapshot of an image for a container
 * (mount descriptors, not mounted), remove it, remove the image, list what is left.
 */
import { isNotFound } from '@podkit/errdefs';
import { ImageStore, type ImageStoreOptions } from '@podkit/image-store';
import type { MountDescriptor } from '@podkit/oci-spec';

export interface DemoSnapshots {
  store: ImageStore;
  prepare(key: string, ref: string): Promise<MountDescriptor[]>;
  /** The layer directories of an image, top first (the order of overlay's lowerdir). */
  layerDirs(ref: string): Promise<string[]>;
  /** Removes an active snapshot; false when there was none. */
  remove(key: string): Promise<boolean>;
  /** Removes an image name (and what only it used); false when there was none. */
  removeImage(ref: string): Promise<boolean>;
  /** Every snapshot left (active, view or committed), as `kind name`. */
  remaining(): Promise<string[]>;
  close(): Promise<void>;
}

export async function openSnapshots(root: string, opts: ImageStoreOptions = {}): Promise<DemoSnapshots> {
  const store = await ImageStore.open(root, opts);
  return {
    store,
    prepare: (key, ref) => store.prepareSnapshot(key, ref),
    layerDirs: async (ref) => store.chainIds(await store.get(ref)).map((c) => store.layerDir(c)).reverse(),
    remove: async (key) => {
      try {
        await store.snapshotter.remove(key);
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    },
    removeImage: async (ref) => {
      try {
        await store.remove(ref);
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    },
    remaining: async () => (await store.snapshotter.walk()).map((s) => `${s.kind} ${s.name}`),
    close: () => store.close(),
  };
}

/** The `upperdir=` and `lowerdir=` folders of an overlay mount descriptor (a bind: the source is the upper). */
export function overlayDirs(ms: readonly MountDescriptor[]): { upper?: string; lowers: string[] } {
  const m = ms[0];
  if (!m) return { lowers: [] };
  if (m.type === 'bind') return { upper: m.source, lowers: [] };
  const opt = (k: string) => m.options.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
  return { upper: opt('upperdir'), lowers: (opt('lowerdir') ?? '').split(':').filter(Boolean) };
}
