/**
 * OCI image-spec v1.1 documents (descriptor, manifest, index, image config, `oci-layout`), also accepting
 * the Docker v2 schema 2 manifest and manifest list, which have the same shape. Types and JSON Schemas
 * from one source (TypeBox); unknown properties are allowed.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { Digest } from '../digest';
import { Nullable, Pattern, StringArray, StringEnum, StringMap, Uint64 } from './common';

const Opt = Type.Optional;

export const MANIFEST_MEDIA_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
] as const;
export const INDEX_MEDIA_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
] as const;

const DigestString = () => Type.Unsafe<Digest>(Pattern('digest'));

export const PlatformSchema = Type.Object({
  architecture: Type.String({ minLength: 1 }),
  os: Type.String({ minLength: 1 }),
  'os.version': Opt(Type.String()),
  'os.features': Opt(StringArray()),
  variant: Opt(Type.String()),
  /** Reserved by image-spec; Docker manifest lists use it for CPU features. */
  features: Opt(StringArray()),
});

export const DescriptorSchema = Type.Object({
  mediaType: Pattern('mediaType'),
  digest: DigestString(),
  size: Uint64(),
  urls: Opt(StringArray()),
  annotations: Opt(StringMap()),
  data: Opt(Pattern('base64')),
  artifactType: Opt(Pattern('mediaType')),
  platform: Opt(PlatformSchema),
});

export const ImageManifestSchema = Type.Object({
  schemaVersion: Type.Literal(2),
  mediaType: Opt(StringEnum(MANIFEST_MEDIA_TYPES)),
  artifactType: Opt(Pattern('mediaType')),
  config: DescriptorSchema,
  layers: Type.Array(DescriptorSchema),
  subject: Opt(DescriptorSchema),
  annotations: Opt(StringMap()),
});

export const ImageIndexSchema = Type.Object({
  schemaVersion: Type.Literal(2),
  mediaType: Opt(StringEnum(INDEX_MEDIA_TYPES)),
  artifactType: Opt(Pattern('mediaType')),
  manifests: Type.Array(DescriptorSchema),
  subject: Opt(DescriptorSchema),
  annotations: Opt(StringMap()),
});

const EmptyObjectMap = () => Nullable(Type.Record(Type.String(), Type.Object({})));

export const HealthcheckSchema = Type.Object({
  Test: Opt(Nullable(StringArray())),
  Interval: Opt(Type.Integer()),
  Timeout: Opt(Type.Integer()),
  StartPeriod: Opt(Type.Integer()),
  StartInterval: Opt(Type.Integer()),
  Retries: Opt(Type.Integer()),
});

/** The execution parameters of an image config (`config` member). Docker writes `null` for empty fields. */
export const ImageConfigConfigSchema = Type.Object({
  User: Opt(Type.String()),
  ExposedPorts: Opt(EmptyObjectMap()),
  Env: Opt(Nullable(StringArray())),
  Entrypoint: Opt(Nullable(StringArray())),
  Cmd: Opt(Nullable(StringArray())),
  Volumes: Opt(EmptyObjectMap()),
  WorkingDir: Opt(Type.String()),
  Labels: Opt(Nullable(StringMap())),
  StopSignal: Opt(Type.String()),
  ArgsEscaped: Opt(Type.Boolean()),
  Healthcheck: Opt(Nullable(HealthcheckSchema)),
  Shell: Opt(Nullable(StringArray())),
  OnBuild: Opt(Nullable(StringArray())),
});

export const RootFSSchema = Type.Object({
  type: Type.Literal('layers'),
  diff_ids: Type.Array(DigestString()),
});

export const HistorySchema = Type.Object({
  created: Opt(Pattern('rfc3339')),
  created_by: Opt(Type.String()),
  author: Opt(Type.String()),
  comment: Opt(Type.String()),
  empty_layer: Opt(Type.Boolean()),
});

export const ImageConfigSchema = Type.Object({
  created: Opt(Pattern('rfc3339')),
  author: Opt(Type.String()),
  architecture: Type.String({ minLength: 1 }),
  os: Type.String({ minLength: 1 }),
  'os.version': Opt(Type.String()),
  'os.features': Opt(StringArray()),
  variant: Opt(Type.String()),
  config: Opt(ImageConfigConfigSchema),
  rootfs: RootFSSchema,
  history: Opt(Type.Array(HistorySchema)),
});

export const OciLayoutSchema = Type.Object({ imageLayoutVersion: Pattern('layoutVersion') });

export type Platform = Static<typeof PlatformSchema>;
export type Descriptor = Static<typeof DescriptorSchema>;
export type ImageManifest = Static<typeof ImageManifestSchema>;
export type ImageIndex = Static<typeof ImageIndexSchema>;
export type ImageConfig = Static<typeof ImageConfigSchema>;
export type ImageConfigConfig = Static<typeof ImageConfigConfigSchema>;
export type Healthcheck = Static<typeof HealthcheckSchema>;
export type RootFS = Static<typeof RootFSSchema>;
export type History = Static<typeof HistorySchema>;
export type OciLayout = Static<typeof OciLayoutSchema>;
