/**
 * A layout or archive image seen through the registry client's read interface (resolve, fetchManifest,
 * blob), so an import can run the pull path itself (platform selection, verified blobs, layers unpacked
 * into snapshots, the image record) with the archive in place of the registry.
 */
import { DataLossError, NotFoundError } from '@podkit/errdefs';
import { Descriptor, Digester, Reference, parseDigest } from '@podkit/oci-spec';
import type { ManifestResult } from '../registry/client';
import { BlobSource, SourceImage } from './source';

/** What ImageStore's pull reads from: RegistryClient has this shape. */
export interface PullSource {
  resolve(ref: Reference): Promise<ManifestResult>;
  fetchManifest(ref: Reference, reference: string, expected?: Descriptor): Promise<ManifestResult>;
  blob(ref: Reference, desc: Descriptor, start?: number): AsyncGenerator<Buffer>;
}

export class LayoutPullSource implements PullSource {
  constructor(
    private readonly source: BlobSource,
    private readonly image: SourceImage,
  ) {}

  private async manifest(desc: Descriptor): Promise<ManifestResult> {
    const body = await this.source.read(desc, 4 * 1024 * 1024);
    const got = new Digester(parseDigest(desc.digest).algorithm).update(body).digest();
    if (got !== desc.digest) throw new DataLossError(`${this.source.what}: ${desc.digest} has digest ${got}`, { details: { field: 'digest' } });
    let mediaType = desc.mediaType;
    try {
      const doc = JSON.parse(body.toString('utf8')) as { mediaType?: unknown };
      if (typeof doc.mediaType === 'string') mediaType = doc.mediaType;
    } catch {
      /* the pull path validates the document */
    }
    return { descriptor: { mediaType, digest: desc.digest, size: body.length }, body };
  }

  /** The image this source was opened for, whatever the reference says (the name is the caller's). */
  resolve(): Promise<ManifestResult> {
    return this.manifest(this.image.root);
  }

  async fetchManifest(_ref: Reference, reference: string, expected?: Descriptor): Promise<ManifestResult> {
    if (!reference.includes(':')) throw new NotFoundError(`${this.source.what}: manifests are read by digest here, not by tag ${reference}`);
    const r = await this.manifest({ mediaType: expected?.mediaType ?? '', digest: reference, size: expected?.size ?? 0 });
    if (expected && expected.size !== r.body.length) throw new DataLossError(`${this.source.what}: ${reference} has ${r.body.length} bytes, the descriptor says ${expected.size}`);
    return r;
  }

  async *blob(_ref: Reference, desc: Descriptor, start = 0): AsyncGenerator<Buffer> {
    let skip = start;
    for await (const c of this.source.open(desc)) {
      if (skip >= c.length) {
        skip -= c.length;
        continue;
      }
      yield skip > 0 ? c.subarray(skip) : c;
      skip = 0;
    }
  }
}
