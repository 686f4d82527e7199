/**
 * @podkit/image-store: content store, registry client, safe layer unpacking and images (`podimg`).
 * Imports only base packages and `@podkit/runtime-core/sys`.
 */
export { ContentStore, ContentWriter } from './content/store';
export type { BlobInfo, IngestionStatus, Labels, WriterOptions } from './content/store';
export { RegistryClient, MANIFEST_ACCEPT } from './registry/client';
export type { RegistryClientOptions, ManifestResult } from './registry/client';
export { readTar, parsePax } from './tar/reader';
export type { TarEntry } from './tar/reader';
export { buildTar, tarHeader, tarPadding, tarEnd } from './tar/writer';
export type { TarWriteEntry, TarWriteOptions } from './tar/writer';
export { DEFAULT_TAR_LIMITS } from './tar/types';
export type { TarEntryType, TarHeader, TarLimits } from './tar/types';
export { applyLayer } from './unpack/apply';
export type { ApplyOptions, ApplyStats, LayerTarget } from './unpack/apply';
export { decompress, unpackLayerStream } from './unpack/layer';
export type { LayerResult } from './unpack/layer';
export { unpackBundle, unpackRootfs, specFromImage } from './unpack/bundle';
export type { UnpackResult } from './unpack/bundle';
export { cleanEntryName, resolveDirInRoot } from './unpack/paths';
export { ImageStore } from './images/store';
export type { ImageStoreOptions, PullOptions } from './images/store';
export type { ImageRecord, PullEvent } from './images/types';
