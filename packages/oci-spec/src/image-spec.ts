/** Validators for the image-spec documents (also Docker v2 schema 2 manifests and manifest lists). */
import { createHash } from 'node:crypto';
import type { FieldIssue } from '@podkit/errdefs';
import { isDigest } from './digest';
import { MediaType } from './media-types';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest, OciLayout, Platform } from './schema/image';
import type { MountDescriptor } from './schema/mount';
import { check, validate, type CheckResult } from './validate';

/** Embedded `data` must match the descriptor's size and digest (image-spec descriptor.md#embedded-content). */
function descriptorIssues(d: Descriptor | undefined, base: string): FieldIssue[] {
  // Also runs over documents that failed the schema: only well-formed data, size and digest are compared.
  if (typeof d !== 'object' || d === null || typeof d.data !== 'string' || typeof d.size !== 'number') return [];
  if (!isDigest(d.digest)) return [];
  const bytes = Buffer.from(d.data, 'base64');
  const issues: FieldIssue[] = [];
  if (bytes.length !== d.size) {
    issues.push({ path: `${base}/data`, reason: `decodes to ${bytes.length} bytes but size is ${d.size}` });
  }
  const [algorithm, encoded] = d.digest.split(':') as [string, string];
  if (createHash(algorithm).update(bytes).digest('hex') !== encoded) {
    issues.push({ path: `${base}/data`, reason: `does not match digest ${d.digest}` });
  }
  return issues;
}

const list = <T>(x: readonly T[] | undefined): readonly T[] => (Array.isArray(x) ? x : []);

function manifestIssues(m: ImageManifest): FieldIssue[] {
  if (typeof m !== 'object' || m === null) return [];
  const issues = [
    ...descriptorIssues(m.config, '/config'),
    ...list(m.layers).flatMap((l, i) => descriptorIssues(l, `/layers/${i}`)),
    ...descriptorIssues(m.subject, '/subject'),
  ];
  if (m.config?.mediaType === MediaType.Empty && m.artifactType === undefined) {
    issues.push({ path: '/artifactType', reason: `is required when config.mediaType is "${MediaType.Empty}"` });
  }
  return issues;
}

function indexIssues(x: ImageIndex): FieldIssue[] {
  if (typeof x !== 'object' || x === null) return [];
  return [...list(x.manifests).flatMap((d, i) => descriptorIssues(d, `/manifests/${i}`)), ...descriptorIssues(x.subject, '/subject')];
}

const rootDescriptorIssues = (d: Descriptor) => descriptorIssues(d, '');

export function checkDescriptor(doc: unknown): CheckResult<Descriptor> {
  return check<Descriptor>('descriptor', doc, rootDescriptorIssues);
}
export function validateDescriptor(doc: unknown): Descriptor {
  return validate<Descriptor>('descriptor', 'descriptor', doc, rootDescriptorIssues);
}

export function checkPlatform(doc: unknown): CheckResult<Platform> {
  return check<Platform>('platform', doc);
}
export function validatePlatform(doc: unknown): Platform {
  return validate<Platform>('platform', 'platform', doc);
}

/** An OCI image manifest or a Docker v2 schema 2 manifest. */
export function checkImageManifest(doc: unknown): CheckResult<ImageManifest> {
  return check<ImageManifest>('manifest', doc, manifestIssues);
}
export function validateImageManifest(doc: unknown): ImageManifest {
  return validate<ImageManifest>('manifest', 'image manifest', doc, manifestIssues);
}

/** An OCI image index (also the `index.json` of an image layout) or a Docker manifest list. */
export function checkImageIndex(doc: unknown): CheckResult<ImageIndex> {
  return check<ImageIndex>('index', doc, indexIssues);
}
export function validateImageIndex(doc: unknown): ImageIndex {
  return validate<ImageIndex>('index', 'image index', doc, indexIssues);
}

/** An OCI image config or a Docker container config (which writes `null` for empty lists and maps). */
export function checkImageConfig(doc: unknown): CheckResult<ImageConfig> {
  return check<ImageConfig>('config', doc);
}
export function validateImageConfig(doc: unknown): ImageConfig {
  return validate<ImageConfig>('config', 'image config', doc);
}

/** The `oci-layout` file of an image layout. */
export function checkOciLayout(doc: unknown): CheckResult<OciLayout> {
  return check<OciLayout>('layout', doc);
}
export function validateOciLayout(doc: unknown): OciLayout {
  return validate<OciLayout>('layout', 'oci-layout', doc);
}

export function checkMountDescriptor(doc: unknown): CheckResult<MountDescriptor> {
  return check<MountDescriptor>('mount', doc);
}
/** A mount descriptor as a snapshotter returns it: `{type, source, target?, options}`. */
export function validateMountDescriptor(doc: unknown): MountDescriptor {
  return validate<MountDescriptor>('mount', 'mount descriptor', doc);
}
