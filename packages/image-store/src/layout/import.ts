/**
 * Import: detect what a path is (an OCI layout directory, an oci-archive tar, a docker-archive tar)
 * and copy the images' blobs into the content store, each one checked against its descriptor (size
 * and digest: a blob is committed only when both match), manifests and indexes walked from verified
 * bytes only.
 */
import * as fsp from 'node:fs/promises';
import { DataLossError, InvalidArgumentError, NotFoundError } from '@podkit/errdefs';
import { Descriptor, Digest, Digester, isIndexMediaType, isManifestMediaType, parseDigest } from '@podkit/oci-spec';
import { ContentStore } from '../content/store';
import { DockerArchiveSource } from './docker-archive';
import { OciLayoutSource } from './oci';
import { BlobSource, DirSource, TarSource } from './source';

export type LayoutFormat = 'oci-dir' | 'oci-archive' | 'docker-archive';

export interface OpenedSource {
  format: LayoutFormat;
  source: BlobSource;
}

/** Opens `p` as whichever of the three formats it is. */
export async function openLayout(p: string): Promise<OpenedSource> {
  let st;
  try {
    st = await fsp.stat(p);
  } catch {
    throw new NotFoundError(`${p}: no such file or directory`, { details: { field: 'path' } });
  }
  if (st.isDirectory()) return { format: 'oci-dir', source: await OciLayoutSource.open(new DirSource(p)) };
  if (!st.isFile()) throw new InvalidArgumentError(`${p}: neither a directory nor a file`, { details: { field: 'path' } });
  const tar = await TarSource.open(p);
  if (await tar.has('oci-layout')) return { format: 'oci-archive', source: await OciLayoutSource.open(tar) };
  if (await tar.has('manifest.json')) return { format: 'docker-archive', source: await DockerArchiveSource.open(tar) };
  throw new InvalidArgumentError(`${p}: a tar archive with neither oci-layout nor manifest.json: not an oci-archive or a docker-archive`, { details: { field: 'path' } });
}

export interface ImportStats {
  /** Blobs copied into the store. */
  imported: Digest[];
  /** Blobs the store already had. */
  present: Digest[];
}

const MAX_MANIFEST = 4 * 1024 * 1024;

/** Copies every blob reachable from `roots` into the store (verified), manifests first-read-then-walked. */
export async function importBlobs(source: BlobSource, content: ContentStore, roots: Descriptor[]): Promise<ImportStats> {
  const stats: ImportStats = { imported: [], present: [] };
  const done = new Set<string>();

  const copy = async (d: Descriptor): Promise<void> => {
    if (await content.has(d.digest)) {
      stats.present.push(d.digest as Digest);
      return;
    }
    const w = await content.writer(`import-${d.digest}`, { expected: { digest: d.digest, size: d.size }, waitMs: 60_000 });
    try {
      if (await content.has(d.digest)) {
        await w.close();
        stats.present.push(d.digest as Digest);
        return;
      }
      if (w.offset > 0) await w.truncate();
      for await (const c of source.open(d)) await w.write(c);
      await w.commit(d.size, d.digest);
    } catch (err) {
      await w.abort().catch(() => undefined);
      throw err;
    }
    stats.imported.push(d.digest as Digest);
  };

  const walk = async (d: Descriptor, at: string): Promise<void> => {
    if (done.has(d.digest)) return;
    done.add(d.digest);
    parseDigest(d.digest, `${at}.digest`);
    if (isIndexMediaType(d.mediaType) || isManifestMediaType(d.mediaType)) {
      if (d.size > MAX_MANIFEST) throw new InvalidArgumentError(`${source.what}: ${at} of ${d.size} bytes exceeds the manifest limit`, { details: { field: `${at}.size` } });
      const body = await source.read(d, MAX_MANIFEST);
      const got = new Digester(parseDigest(d.digest).algorithm).update(body).digest();
      if (got !== d.digest || body.length !== d.size) throw new DataLossError(`${source.what}: ${at} ${d.digest} has ${body.length} bytes with digest ${got}`, { details: { field: `${at}.digest` } });
      let doc: { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
      try {
        doc = JSON.parse(body.toString('utf8')) as typeof doc;
      } catch {
        throw new InvalidArgumentError(`${source.what}: ${at} ${d.digest} is not JSON`, { details: { field: at } });
      }
      for (const [i, m] of (doc.manifests ?? []).entries()) await walk(m, `${at}.manifests[${i}]`);
      if (doc.config) await walk(doc.config, `${at}.config`);
      for (const [i, l] of (doc.layers ?? []).entries()) await walk(l, `${at}.layers[${i}]`);
      // The manifest goes in after what it references, so the store never has a dangling one.
      if (!(await content.has(d.digest))) {
        await content.putBlob(body, d.digest);
        stats.imported.push(d.digest as Digest);
      } else stats.present.push(d.digest as Digest);
      return;
    }
    await copy(d);
  };

  for (const [i, r] of roots.entries()) await walk(r, `images[${i}]`);
  return stats;
}
