/**
 * OCI image layout (image-spec `image-layout.md`), as a directory or a tar of it (oci-archive):
 * `oci-layout` ({"imageLayoutVersion": "1.0.0"}), `index.json`, `blobs/<alg>/<hex>`.
 *
 * Reading: the images are the entries of `index.json`; their names come from the annotations
 * `io.containerd.image.name` (a full reference) or `org.opencontainers.image.ref.name` (a tag, or a
 * full reference). Writing: the same annotations, so skopeo (`oci:DIR:TAG`), umoci (`--image DIR:TAG`)
 * and containerd (`ctr import`) find the images by tag or name.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { InvalidArgumentError, NotFoundError, invalidField } from '@podkit/errdefs';
import { Descriptor, ImageIndex, MediaType, validateImageIndex, validateOciLayout } from '@podkit/oci-spec';
import { ContentStore } from '../content/store';
import { tarEnd, tarHeader, tarPadding } from '../tar/writer';
import { BlobSource, FileSource, SourceImage, blobMember } from './source';

export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
export const ANNOTATION_CONTAINERD_NAME = 'io.containerd.image.name';

function parseJson(buf: Buffer, what: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`${what}: not valid JSON: ${(err as Error).message}`, { details: { field: what } });
  }
}

/** The OCI layout in a directory or archive, as a BlobSource. */
export class OciLayoutSource implements BlobSource {
  private constructor(
    private readonly files: FileSource,
    readonly images: SourceImage[],
    readonly index: ImageIndex,
  ) {}

  get what(): string {
    return this.files.what;
  }

  static async open(files: FileSource): Promise<OciLayoutSource> {
    if (!(await files.has('oci-layout'))) throw new InvalidArgumentError(`${files.what}: not an OCI image layout (no oci-layout file)`, { details: { field: 'oci-layout' } });
    const layout = validateOciLayout(parseJson(await files.read('oci-layout', 64 * 1024), `${files.what}: oci-layout`));
    if (!layout.imageLayoutVersion.startsWith('1.')) throw invalidField('oci-layout.imageLayoutVersion', `${files.what}: version ${layout.imageLayoutVersion} is not supported (1.x is)`);
    if (!(await files.has('index.json'))) throw new InvalidArgumentError(`${files.what}: OCI layout without index.json`, { details: { field: 'index.json' } });
    const index = validateImageIndex(parseJson(await files.read('index.json', 4 * 1024 * 1024), `${files.what}: index.json`));
    const images: SourceImage[] = index.manifests.map((m) => {
      const a = m.annotations ?? {};
      const name = a[ANNOTATION_CONTAINERD_NAME] ?? a[ANNOTATION_REF_NAME];
      const root: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.size, ...(m.platform ? { platform: m.platform } : {}) };
      return { ...(name !== undefined ? { name } : {}), root };
    });
    return new OciLayoutSource(files, images, index);
  }

  open(desc: Descriptor): AsyncIterable<Buffer> {
    return this.files.stream(blobMember(desc.digest));
  }

  async read(desc: Descriptor, max?: number): Promise<Buffer> {
    const rel = blobMember(desc.digest);
    if (!(await this.files.has(rel))) throw new NotFoundError(`${this.files.what}: blob ${desc.digest} is missing`, { details: { field: 'digest' } });
    return this.files.read(rel, max);
  }

  async close(): Promise<void> {
    await this.files.close();
  }
}

/** An image to write: its root descriptor and the name to record (full reference), if any. */
export interface ExportImage {
  name?: string;
  /** The `org.opencontainers.image.ref.name` to write (default: the tag of `name`). */
  tag?: string;
  root: Descriptor;
}

/** The tag part of a full reference (`a/b:tag` → `tag`), or undefined for a digest reference. */
export function tagOf(name: string): string | undefined {
  const m = /:([\w][\w.-]{0,127})$/.exec(name.replace(/@.*$/, ''));
  return m && !m[1]?.includes('/') ? m[1] : undefined;
}

/** Every blob reachable from the roots (manifests and indexes read from the store), deduplicated. */
export async function reachableBlobs(content: ContentStore, roots: Descriptor[]): Promise<Descriptor[]> {
  const seen = new Map<string, Descriptor>();
  const walk = async (d: Descriptor): Promise<void> => {
    if (seen.has(d.digest)) return;
    seen.set(d.digest, { mediaType: d.mediaType, digest: d.digest, size: d.size });
    if (d.mediaType === MediaType.ImageIndex || d.mediaType === MediaType.DockerManifestList || d.mediaType === MediaType.ImageManifest || d.mediaType === MediaType.DockerManifest) {
      const doc = parseJson(await content.readBlob(d.digest), `manifest ${d.digest}`) as { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
      for (const c of doc.manifests ?? []) {
        if (!(await content.has(c.digest))) throw new NotFoundError(`index ${d.digest}: manifest ${c.digest} is not in the store (only some platforms were pulled); export the platform manifest instead`, { details: { field: 'manifests' } });
        await walk(c);
      }
      if (doc.config) await walk(doc.config);
      for (const l of doc.layers ?? []) await walk(l);
    }
  };
  for (const r of roots) await walk(r);
  return [...seen.values()];
}

function indexDoc(images: ExportImage[]): Buffer {
  const manifests = images.map((img) => {
    const annotations: Record<string, string> = {};
    if (img.name) annotations[ANNOTATION_CONTAINERD_NAME] = img.name;
    const tag = img.tag ?? (img.name ? tagOf(img.name) : undefined);
    if (tag) annotations[ANNOTATION_REF_NAME] = tag;
    return { mediaType: img.root.mediaType, digest: img.root.digest, size: img.root.size, ...(img.root.platform ? { platform: img.root.platform } : {}), ...(Object.keys(annotations).length ? { annotations } : {}) };
  });
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests }));
}

const LAYOUT_FILE = Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }));

/**
 * Writes an OCI layout directory. An existing layout is added to (its blobs kept, index entries with the
 * same name replaced), as skopeo does for `oci:DIR:TAG`.
 */
export async function exportOciDir(content: ContentStore, images: ExportImage[], dir: string): Promise<{ blobs: number }> {
  const blobs = await reachableBlobs(content, images.map((i) => i.root));
  await fsp.mkdir(path.join(dir, 'blobs'), { recursive: true });
  let old: ImageIndex | undefined;
  try {
    old = validateImageIndex(JSON.parse(await fsp.readFile(path.join(dir, 'index.json'), 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new InvalidArgumentError(`${dir}: existing index.json is not valid: ${(err as Error).message}`, { details: { field: 'index.json' } });
  }
  for (const b of blobs) {
    const dest = path.join(dir, blobMember(b.digest));
    await fsp.mkdir(path.dirname(dest), { recursive: true });
    if (await fsp.stat(dest).then((s) => s.size === b.size, () => false)) continue;
    const tmp = `${dest}.tmp-${process.pid}`;
    await fsp.copyFile(content.blobPath(b.digest), tmp);
    await fsp.chmod(tmp, 0o644);
    await fsp.rename(tmp, dest);
  }
  const names = new Set(images.map((i) => i.name).filter((n): n is string => n !== undefined));
  const tags = new Set(images.map((i) => i.tag ?? (i.name ? tagOf(i.name) : undefined)).filter((t): t is string => t !== undefined));
  const kept = (old?.manifests ?? []).filter((m) => {
    const a = m.annotations ?? {};
    const n = a[ANNOTATION_CONTAINERD_NAME];
    const t = a[ANNOTATION_REF_NAME];
    return !(n !== undefined && names.has(n)) && !(t !== undefined && tags.has(t));
  });
  const fresh = JSON.parse(indexDoc(images).toString('utf8')) as ImageIndex;
  const merged = { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [...kept, ...fresh.manifests] };
  await fsp.writeFile(path.join(dir, 'oci-layout'), LAYOUT_FILE);
  const tmpIndex = path.join(dir, `.index.json.${process.pid}.tmp`);
  await fsp.writeFile(tmpIndex, JSON.stringify(merged));
  await fsp.rename(tmpIndex, path.join(dir, 'index.json'));
  return { blobs: blobs.length };
}

/** Streams a tar archive to `file` through a temp file renamed at the end (never half-written). */
export async function writeTarFile(file: string, entries: AsyncIterable<Buffer>): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    await pipeline(Readable.from(entries), fs.createWriteStream(tmp, { mode: 0o644 }));
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

const MTIME = 0;

export function* tarFile(name: string, data: Buffer): Generator<Buffer> {
  yield tarHeader({ name, data, mode: 0o644, mtime: MTIME });
  yield data;
  yield tarPadding(data.length);
}

export function tarDir(name: string): Buffer {
  return tarHeader({ name: name.endsWith('/') ? name : `${name}/`, type: 'dir', mode: 0o755, mtime: MTIME });
}

/** Writes an oci-archive: the OCI layout as a tar (oci-layout, index.json, blobs). */
export async function exportOciArchive(content: ContentStore, images: ExportImage[], file: string): Promise<{ blobs: number }> {
  const blobs = await reachableBlobs(content, images.map((i) => i.root));
  async function* entries(): AsyncGenerator<Buffer> {
    yield* tarFile('oci-layout', LAYOUT_FILE);
    yield* tarFile('index.json', indexDoc(images));
    yield tarDir('blobs');
    for (const alg of new Set(blobs.map((b) => b.digest.split(':')[0] ?? ''))) yield tarDir(`blobs/${alg}`);
    for (const b of blobs) {
      yield tarHeader({ name: blobMember(b.digest), size: b.size, mode: 0o644, mtime: MTIME });
      let n = 0;
      for await (const c of (await content.readStream(b.digest)) as AsyncIterable<Buffer>) {
        n += c.length;
        yield c;
      }
      if (n !== b.size) throw new InvalidArgumentError(`blob ${b.digest}: read ${n} bytes, expected ${b.size}`);
      yield tarPadding(b.size);
    }
    yield tarEnd();
  }
  await writeTarFile(file, entries());
  return { blobs: blobs.length };
}
