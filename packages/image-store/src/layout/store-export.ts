/**
 * `podimg export <ref> <path> [--format oci-dir|oci-archive|docker-archive]`: an image of the store as
 * an OCI layout directory, an oci-archive or a docker-archive. The whole index goes to OCI formats when
 * every manifest it lists is in the store, else the platform manifest that was pulled; a docker-archive
 * always holds the platform manifest. The image name is recorded (`io.containerd.image.name` and the tag
 * as `org.opencontainers.image.ref.name` in OCI layouts, RepoTags in docker-archives).
 */
import { invalidField } from '@podkit/errdefs';
import { Descriptor } from '@podkit/oci-spec';
import type { ImageStore } from '../images/store';
import { exportDockerArchive } from './docker-archive';
import { LayoutFormat } from './import';
import { exportOciArchive, exportOciDir } from './oci';

export const EXPORT_FORMATS: readonly LayoutFormat[] = ['oci-dir', 'oci-archive', 'docker-archive'];

/** The format for a path when none is given: a `.tar` file is an oci-archive, anything else a directory. */
export function defaultExportFormat(p: string): LayoutFormat {
  return p.endsWith('.tar') ? 'oci-archive' : 'oci-dir';
}

async function exportRoot(store: ImageStore, target: Descriptor, manifest: Descriptor): Promise<Descriptor> {
  if (target.digest === manifest.digest) return manifest;
  try {
    const doc = JSON.parse((await store.content.readBlob(target.digest)).toString('utf8')) as { manifests?: Descriptor[] };
    for (const m of doc.manifests ?? []) if (!(await store.content.has(m.digest))) return manifest;
    return target;
  } catch {
    return manifest;
  }
}

export async function exportStoredImage(store: ImageStore, ref: string, out: string, format: LayoutFormat = defaultExportFormat(out), opts: { tmpDir?: string } = {}): Promise<{ name: string; digest: string; format: LayoutFormat }> {
  if (!EXPORT_FORMATS.includes(format)) throw invalidField('format', `must be one of ${EXPORT_FORMATS.join(', ')}`);
  const record = await store.get(ref);
  if (format === 'docker-archive') {
    await exportDockerArchive(store.content, [{ name: record.name, manifest: record.manifest }], out, opts);
    return { name: record.name, digest: record.manifest.digest, format };
  }
  const root = await exportRoot(store, record.target, record.manifest);
  if (format === 'oci-dir') await exportOciDir(store.content, [{ name: record.name, root }], out);
  else await exportOciArchive(store.content, [{ name: record.name, root }], out);
  return { name: record.name, digest: root.digest, format };
}
