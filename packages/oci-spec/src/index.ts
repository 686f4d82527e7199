/**
 * @podkit/oci-spec — types, JSON Schemas and validators for the OCI runtime-spec v1.2 (Linux) and
 * image-spec v1.1 (plus the Docker v2 schema 2 formats), digests, image references, media types,
 * platforms and the mount descriptor snapshotters return.
 *
 * Importing this module is cheap: schemas (TypeBox) and ajv are loaded on the first validation, and
 * each validator is compiled once per process (or generated at build time, see README).
 */
export type { FieldIssue } from '@podkit/errdefs';

// runtime-spec: the names of the `@podkit/oci-spec/runtime-spec` entry point, listed once there
export * from './runtime-spec';
export * from './schema/enums';

// image-spec
export type {
  Descriptor,
  Platform,
  ImageManifest,
  ImageIndex,
  ImageConfig,
  ImageConfigConfig,
  Healthcheck,
  RootFS,
  History,
  OciLayout,
} from './schema/image';
export type { MountDescriptor } from './schema/mount';
export {
  checkDescriptor,
  validateDescriptor,
  checkPlatform,
  validatePlatform,
  checkImageManifest,
  validateImageManifest,
  checkImageIndex,
  validateImageIndex,
  checkImageConfig,
  validateImageConfig,
  checkOciLayout,
  validateOciLayout,
  checkMountDescriptor,
  validateMountDescriptor,
} from './image-spec';
export {
  MediaType,
  type MediaTypeName,
  type KnownMediaType,
  type LayerCompression,
  isManifestMediaType,
  isIndexMediaType,
  isConfigMediaType,
  isLayerMediaType,
  isNonDistributableMediaType,
  layerCompression,
} from './media-types';

// digests, references, platforms
export {
  type Digest,
  type DigestAlgorithm,
  type Verifier,
  DIGEST_ALGORITHMS,
  parseDigest,
  isDigest,
  digestProblem,
  formatDigest,
  digestOf,
  Digester,
  digestStream,
  verifyDigest,
  createVerifier,
} from './digest';
export {
  type Reference,
  DEFAULT_DOMAIN,
  DEFAULT_TAG,
  parseReference,
  isReference,
  formatReference,
  familiarName,
  familiarString,
  referenceName,
  tagProblem,
} from './reference';
export { defaultPlatform, normalizePlatform, matchPlatform, selectPlatform, formatPlatform, parsePlatform } from './platform';

// the validation engine, for callers that want the raw JSON Schemas or their own documents
export { type CheckResult, type SchemaId, SCHEMA_IDS, schemaOf } from './validate';
