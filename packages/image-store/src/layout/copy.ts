/**
 * `podimg copy <src> <dst>`: an image between registries, OCI layouts and archives, named as skopeo
 * names them:
 *
 *   docker://<reference>            a registry (auth, mirrors and TLS from the RegistryAccess)
 *   oci:<dir>[:<tag>]               an OCI layout directory
 *   oci-archive:<file>[:<tag>]      a tar of one
 *   docker-archive:<file>[:<ref>]   a `docker save` archive
 *
 * The blobs go through a staging content store (verified on the way in, as any import), then out to
 * the destination (pushed, or written as a layout or archive). A multi-platform index is copied whole,
 * except to a docker-archive, which holds one platform (this machine's, or `platform`).
 */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidArgumentError, NotFoundError, invalidField } from '@podkit/errdefs';
import { Descriptor, Platform, Reference, defaultPlatform, formatPlatform, formatReference, isIndexMediaType, parseReference, selectPlatform, validateImageIndex } from '@podkit/oci-spec';
import { ContentStore } from '../content/store';
import { RegistryAccess } from '../hosts/access';
import { pushImage, PushEvent } from '../push/push';
import type { RegistryClient } from '../registry/client';
import { exportDockerArchive } from './docker-archive';
import { importBlobs, openLayout } from './import';
import { exportOciArchive, exportOciDir, tagOf } from './oci';
import { BlobSource, SourceImage } from './source';

export type Location = { kind: 'registry'; ref: Reference } | { kind: 'oci-dir' | 'oci-archive' | 'docker-archive'; path: string; name?: string };

const TAG = /^[\w][\w.-]{0,127}$/;

/** Parses a transport-prefixed location (`docker://…`, `oci:…`, `oci-archive:…`, `docker-archive:…`). */
export function parseLocation(s: string, field = 'location'): Location {
  if (s.startsWith('docker://')) return { kind: 'registry', ref: parseReference(s.slice('docker://'.length)) };
  const m = /^(oci|oci-archive|docker-archive):(.+)$/.exec(s);
  if (!m) throw invalidField(field, `"${s}" must start with docker://, oci:, oci-archive: or docker-archive:`);
  const kind = m[1] === 'oci' ? 'oci-dir' : (m[1] as 'oci-archive' | 'docker-archive');
  const rest = m[2] ?? '';
  if (kind === 'docker-archive') {
    // docker-archive:<file>[:<reference>]: the file is everything up to the first ':' after the last '/'.
    const slash = rest.lastIndexOf('/');
    const colon = rest.indexOf(':', slash + 1);
    if (colon < 0) return { kind, path: rest };
    return { kind, path: rest.slice(0, colon), name: rest.slice(colon + 1) };
  }
  const colon = rest.lastIndexOf(':');
  if (colon > 0 && TAG.test(rest.slice(colon + 1)) && !rest.slice(colon + 1).includes('/')) return { kind, path: rest.slice(0, colon), name: rest.slice(colon + 1) };
  return { kind, path: rest };
}

export function formatLocation(l: Location): string {
  if (l.kind === 'registry') return `docker://${formatReference(l.ref)}`;
  const prefix = l.kind === 'oci-dir' ? 'oci' : l.kind;
  return `${prefix}:${l.path}${l.name ? `:${l.name}` : ''}`;
}

/** A registry image as a BlobSource (through the registry client: auth, mirrors, resume). */
export class RegistrySource implements BlobSource {
  private constructor(
    private readonly client: RegistryClient,
    private readonly ref: Reference,
    readonly images: SourceImage[],
  ) {}

  get what(): string {
    return formatReference(this.ref);
  }

  static async open(client: RegistryClient, ref: Reference): Promise<RegistrySource> {
    const r = await client.resolve(ref);
    return new RegistrySource(client, ref, [{ name: formatReference(ref), root: r.descriptor }]);
  }

  open(desc: Descriptor): AsyncIterable<Buffer> {
    return this.client.blob(this.ref, desc);
  }

  async read(desc: Descriptor, max = 4 * 1024 * 1024): Promise<Buffer> {
    if (desc.size > max) throw new InvalidArgumentError(`${this.what}: ${desc.digest} has ${desc.size} bytes, more than the limit of ${max}`, { details: { field: 'size' } });
    const parts: Buffer[] = [];
    // Manifests come from the manifests endpoint, everything else from blobs.
    if (/manifest|index/.test(desc.mediaType)) return (await this.client.fetchManifest(this.ref, desc.digest, desc)).body;
    for await (const c of this.client.blob(this.ref, desc)) parts.push(c);
    return Buffer.concat(parts);
  }

  async close(): Promise<void> {
    /* the client belongs to the caller */
  }
}

/** Picks the image a location names among those of a source. */
export function selectImage(images: SourceImage[], loc: Location, what: string): SourceImage {
  if (loc.kind === 'registry') {
    const only = images[0];
    if (!only) throw new NotFoundError(`${what}: no image`);
    return only;
  }
  if (loc.name === undefined) {
    const roots = new Set(images.map((i) => i.root.digest));
    const first = images[0];
    if (roots.size === 1 && first) return first;
    throw new InvalidArgumentError(`${what}: holds ${roots.size} images; name one (${images.map((i) => i.name ?? i.root.digest).join(', ')})`, { details: { field: 'name' } });
  }
  const want = loc.name;
  const norm = (n: string): string | undefined => {
    try {
      return formatReference(parseReference(n));
    } catch {
      return undefined;
    }
  };
  const found =
    images.find((i) => i.name === want) ??
    images.find((i) => i.name !== undefined && !TAG.test(want) && norm(i.name) !== undefined && norm(i.name) === norm(want)) ??
    images.find((i) => i.name !== undefined && TAG.test(want) && tagOf(i.name) === want);
  if (!found) throw new NotFoundError(`${what}: no image named ${JSON.stringify(want)} (it has ${images.map((i) => i.name ?? i.root.digest).join(', ') || 'none'})`, { details: { field: 'name' } });
  return found;
}

/** The platform manifest of an index in the store (or the descriptor itself when it is a manifest). */
export async function platformManifest(content: ContentStore, root: Descriptor, platform: Platform = defaultPlatform()): Promise<Descriptor> {
  if (!isIndexMediaType(root.mediaType)) return root;
  const index = validateImageIndex(JSON.parse((await content.readBlob(root.digest)).toString('utf8')));
  const chosen = selectPlatform(index.manifests, platform);
  if (!chosen) throw new NotFoundError(`index ${root.digest}: no manifest for platform ${formatPlatform(platform)}`, { details: { field: 'platform' } });
  return { mediaType: chosen.mediaType, digest: chosen.digest, size: chosen.size };
}

export interface CopyOptions {
  /** Needed for registry sources and destinations. */
  access?: RegistryAccess;
  client?: RegistryClient;
  platform?: Platform;
  /** Where the staging content store goes (default: the OS temp dir). */
  tmpDir?: string;
  onProgress?: (e: PushEvent) => void;
}

export interface CopyResult {
  digest: string;
  blobs: number;
}

/** Opens the source named by a location. */
export async function openSource(loc: Location, opts: CopyOptions): Promise<BlobSource> {
  if (loc.kind === 'registry') {
    if (!opts.client) throw invalidField('client', 'a registry source needs a registry client');
    return RegistrySource.open(opts.client, loc.ref);
  }
  const { format, source } = await openLayout(loc.path);
  if (format !== loc.kind) throw invalidField('source', `${loc.path} is an ${format}, not an ${loc.kind}`);
  return source;
}

/** Writes `root` (already in `content`) to a destination location. */
export async function writeDestination(content: ContentStore, root: Descriptor, dst: Location, opts: CopyOptions & { sourceName?: string }): Promise<void> {
  if (dst.kind === 'registry') {
    if (!opts.access) throw invalidField('access', 'a registry destination needs registry access settings');
    await pushImage({ hosts: opts.access.hosts, auth: opts.access.auth, content }, dst.ref, root, opts.onProgress ? { onProgress: opts.onProgress } : {});
    return;
  }
  // A bare tag names the entry in an OCI layout; a full reference is recorded as the image name too.
  const fullName = dst.name !== undefined && !TAG.test(dst.name) ? dst.name : undefined;
  if (dst.kind === 'oci-dir' || dst.kind === 'oci-archive') {
    const img = { root, ...(fullName ? { name: fullName } : {}), ...(dst.name !== undefined && TAG.test(dst.name) ? { tag: dst.name } : {}) };
    if (dst.kind === 'oci-dir') await exportOciDir(content, [img], dst.path);
    else await exportOciArchive(content, [img], dst.path);
    return;
  }
  const manifest = await platformManifest(content, root, opts.platform);
  const name = fullName ?? opts.sourceName;
  await exportDockerArchive(content, [{ manifest, ...(name ? { name } : {}) }], dst.path, opts.tmpDir ? { tmpDir: opts.tmpDir } : {});
}

export async function copyImage(src: Location, dst: Location, opts: CopyOptions = {}): Promise<CopyResult> {
  const staging = await fsp.mkdtemp(path.join(opts.tmpDir ?? os.tmpdir(), 'podkit-copy-'));
  try {
    const content = await ContentStore.open(staging);
    const source = await openSource(src, opts);
    try {
      const img = selectImage(source.images, src, formatLocation(src));
      const stats = await importBlobs(source, content, [img.root]);
      let sourceName = src.kind === 'registry' ? formatReference(src.ref) : img.name;
      if (sourceName !== undefined && TAG.test(sourceName)) sourceName = undefined;
      await writeDestination(content, img.root, dst, { ...opts, ...(sourceName ? { sourceName } : {}) });
      return { digest: img.root.digest, blobs: stats.imported.length + stats.present.length };
    } finally {
      await source.close();
    }
  } finally {
    await fsp.rm(staging, { recursive: true, force: true });
  }
}
