/** Media types of image-spec v1.1 and of the Docker v2 schema 2 formats that registries still serve. */
import { invalidField } from '@podkit/errdefs';

export const MediaType = {
  // OCI image-spec v1.1
  ImageManifest: 'application/vnd.oci.image.manifest.v1+json',
  ImageIndex: 'application/vnd.oci.image.index.v1+json',
  ImageConfig: 'application/vnd.oci.image.config.v1+json',
  ImageLayout: 'application/vnd.oci.layout.header.v1+json',
  Descriptor: 'application/vnd.oci.descriptor.v1+json',
  Layer: 'application/vnd.oci.image.layer.v1.tar',
  LayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  LayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  LayerNonDistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  LayerNonDistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  LayerNonDistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  Empty: 'application/vnd.oci.empty.v1+json',
  // Docker v2 schema 2
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  DockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  DockerPluginConfig: 'application/vnd.docker.plugin.v1+json',
} as const;

export type MediaTypeName = keyof typeof MediaType;
export type KnownMediaType = (typeof MediaType)[MediaTypeName];

const MANIFESTS: ReadonlySet<string> = new Set([MediaType.ImageManifest, MediaType.DockerManifest]);
const INDEXES: ReadonlySet<string> = new Set([MediaType.ImageIndex, MediaType.DockerManifestList]);
const CONFIGS: ReadonlySet<string> = new Set([MediaType.ImageConfig, MediaType.DockerConfig]);
const LAYERS: ReadonlyMap<string, LayerCompression> = new Map<string, LayerCompression>([
  [MediaType.Layer, 'none'],
  [MediaType.LayerGzip, 'gzip'],
  [MediaType.LayerZstd, 'zstd'],
  [MediaType.LayerNonDistributable, 'none'],
  [MediaType.LayerNonDistributableGzip, 'gzip'],
  [MediaType.LayerNonDistributableZstd, 'zstd'],
  [MediaType.DockerLayer, 'none'],
  [MediaType.DockerLayerGzip, 'gzip'],
  [MediaType.DockerLayerZstd, 'zstd'],
  [MediaType.DockerForeignLayer, 'gzip'],
]);
const NON_DISTRIBUTABLE: ReadonlySet<string> = new Set([
  MediaType.LayerNonDistributable,
  MediaType.LayerNonDistributableGzip,
  MediaType.LayerNonDistributableZstd,
  MediaType.DockerForeignLayer,
]);

export type LayerCompression = 'none' | 'gzip' | 'zstd';

/** Strips parameters (`; charset=utf-8`) and case, as HTTP Content-Type values may carry them. */
function bare(mediaType: string): string {
  const semi = mediaType.indexOf(';');
  return (semi < 0 ? mediaType : mediaType.slice(0, semi)).trim().toLowerCase();
}

/** OCI image manifest or Docker v2 schema 2 manifest. */
export function isManifestMediaType(mediaType: string): boolean {
  return MANIFESTS.has(bare(mediaType));
}

/** OCI image index or Docker manifest list. */
export function isIndexMediaType(mediaType: string): boolean {
  return INDEXES.has(bare(mediaType));
}

/** OCI image config or Docker container config. */
export function isConfigMediaType(mediaType: string): boolean {
  return CONFIGS.has(bare(mediaType));
}

/** Any tar layer type, OCI or Docker, compressed or not, distributable or not. */
export function isLayerMediaType(mediaType: string): boolean {
  return LAYERS.has(bare(mediaType));
}

/** Non-distributable (OCI) or foreign (Docker) layers: fetched from `urls`, not pushed to registries. */
export function isNonDistributableMediaType(mediaType: string): boolean {
  return NON_DISTRIBUTABLE.has(bare(mediaType));
}

/**
 * The compression of a layer media type. Also understands the `+gzip` / `+zstd` suffixes of unknown
 * tar-based layer types. Throws InvalidArgumentError for anything that is not a layer.
 */
export function layerCompression(mediaType: string): LayerCompression {
  const m = bare(mediaType);
  const known = LAYERS.get(m);
  if (known !== undefined) return known;
  if (/[.+]tar$/.test(m)) return 'none';
  if (/[.+]tar[.+]gzip$/.test(m)) return 'gzip';
  if (/[.+]tar[.+]zstd$/.test(m)) return 'zstd';
  throw invalidField('mediaType', `"${mediaType}" is not a layer media type`);
}
