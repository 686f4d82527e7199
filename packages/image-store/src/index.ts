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
// issue 9: registry auth, hosts (mirrors, TLS), push, import/export and copy, zstd
export { parseChallenges } from './auth/challenge';
export type { Challenge } from './auth/challenge';
export { AuthFile, DOCKER_HUB_KEY, defaultAuthFile, normalizeHost, registryKey } from './auth/config-file';
export type { Credentials } from './auth/config-file';
export { Authorizer, mergeScopes, repositoryScope } from './auth/authorizer';
export type { AuthorizerOptions, CredentialsLookup } from './auth/authorizer';
export { authorizedRequest } from './auth/session';
export type { AuthorizedRequest } from './auth/session';
export { login, logout, registryHost, verifyLogin } from './auth/login';
export { RegistryHosts, DEFAULT_HOSTS_FILE, validateHostsDoc } from './hosts/config';
export type { Capability, HostsDoc, RegistryEndpoint, TlsSettings } from './hosts/config';
export { RegistryAccess } from './hosts/access';
export type { RegistryAccessOptions } from './hosts/access';
export { pushImage } from './push/push';
export type { PushContext, PushEvent, PushOptions, PushResult } from './push/push';
export { pushStoredImage } from './push/stored';
export { DirSource, TarSource, cleanMember, blobMember } from './layout/source';
export type { BlobSource, FileSource, SourceImage } from './layout/source';
export { OciLayoutSource, exportOciDir, exportOciArchive, reachableBlobs, ANNOTATION_REF_NAME, ANNOTATION_CONTAINERD_NAME } from './layout/oci';
export type { ExportImage } from './layout/oci';
export { DockerArchiveSource, exportDockerArchive, sniffCompression } from './layout/docker-archive';
export type { DockerExportImage } from './layout/docker-archive';
export { openLayout, importBlobs } from './layout/import';
export type { LayoutFormat, ImportStats, OpenedSource } from './layout/import';
export { LayoutPullSource } from './layout/pull-source';
export type { PullSource } from './layout/pull-source';
export { exportStoredImage, defaultExportFormat, EXPORT_FORMATS } from './layout/store-export';
export { copyImage, parseLocation, formatLocation, RegistrySource, selectImage } from './layout/copy';
export type { CopyOptions, CopyResult, Location } from './layout/copy';
export { findZstdProgram, zstdDecompress, zstdDecompressJs, zstdDecompressProgram } from './zstd/decompress';
