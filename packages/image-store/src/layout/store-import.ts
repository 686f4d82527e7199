/**
 * `podimg import`: the images of an OCI layout directory, an oci-archive or a docker-archive go into the
 * image store through the pull path (ImageStore.pull with the archive as its source): the platform is
 * selected from an index, every blob is verified against its digest, layers are unpacked, and a record is
 * written under the image's name.
 */
import { InvalidArgumentError } from '@podkit/errdefs';
import { formatReference, parseReference } from '@podkit/oci-spec';
import type { ImageStore, PullOptions } from '../images/store';
import type { ImageRecord } from '../images/types';
import { LayoutFormat, openLayout } from './import';
import { LayoutPullSource } from './pull-source';
import { SourceImage } from './source';

const TAG = /^[\w][\w.-]{0,127}$/;

/** The names to give the images of a source: `name` for a single image, else the names they carry. */
export function importNames(images: SourceImage[], name: string | undefined, what: string): Array<{ name: string; image: SourceImage }> {
  if (images.length === 0) throw new InvalidArgumentError(`${what}: no images in it`, { details: { field: 'path' } });
  if (name !== undefined) {
    const roots = new Set(images.map((i) => i.root.digest));
    if (roots.size > 1) throw new InvalidArgumentError(`${what}: holds ${roots.size} images; import it without a name (each keeps its own)`, { details: { field: 'name' } });
    return [{ name: formatReference(parseReference(name)), image: images[0] as SourceImage }];
  }
  return images.map((image) => {
    if (image.name === undefined || TAG.test(image.name)) {
      throw new InvalidArgumentError(`${what}: image ${image.root.digest} has ${image.name === undefined ? 'no name' : `only the tag "${image.name}"`}; give a name: podimg import <path> <name>`, { details: { field: 'name' } });
    }
    return { name: formatReference(parseReference(image.name)), image };
  });
}

export async function importIntoStore(store: ImageStore, p: string, name?: string, opts: Omit<PullOptions, 'source'> = {}): Promise<{ format: LayoutFormat; records: ImageRecord[] }> {
  const { format, source } = await openLayout(p);
  try {
    const records: ImageRecord[] = [];
    for (const { name: n, image } of importNames(source.images, name, p)) records.push(await store.pull(n, { ...opts, source: new LayoutPullSource(source, image) }));
    return { format, records };
  } finally {
    await source.close();
  }
}
