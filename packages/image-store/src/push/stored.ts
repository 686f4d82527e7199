/**
 * `podimg push <local-ref> [<remote-ref>]`: pushes an image of the store. The whole index is pushed when
 * every manifest it lists is in the store, else the platform manifest that was pulled. Blobs are
 * mounted from the image's own repository when the destination is on the same registry.
 */
import { Descriptor, formatReference, parseReference } from '@podkit/oci-spec';
import type { ImageStore } from '../images/store';
import type { RegistryAccess } from '../hosts/access';
import { PushOptions, PushResult, pushImage } from './push';

async function completeIndex(store: ImageStore, index: Descriptor): Promise<boolean> {
  try {
    const doc = JSON.parse((await store.content.readBlob(index.digest)).toString('utf8')) as { manifests?: Descriptor[] };
    for (const m of doc.manifests ?? []) if (!(await store.content.has(m.digest))) return false;
    return true;
  } catch {
    return false;
  }
}

export async function pushStoredImage(store: ImageStore, access: RegistryAccess, localRef: string, remoteRef?: string, opts: Omit<PushOptions, 'mountFrom'> = {}): Promise<PushResult & { name: string }> {
  const record = await store.get(localRef);
  const dest = parseReference(remoteRef ?? record.name);
  const root = record.target.digest !== record.manifest.digest && (await completeIndex(store, record.target)) ? record.target : record.manifest;
  const src = parseReference(record.name);
  const mountFrom = src.domain === dest.domain && src.path !== dest.path ? [src.path] : [];
  const r = await pushImage({ hosts: access.hosts, auth: access.auth, content: store.content }, dest, root, { ...opts, mountFrom });
  return { ...r, name: formatReference(dest) };
}
