/**
 * The foundation's main job: build a sample OCI runtime config (as `runc spec` would) and a sample
 * image manifest, validate both with @podkit/oci-spec, and print them. It proves the build, the
 * validators and the error reporting work on this machine before any container runs.
 */
import { digestOf, defaultSpec, MediaType, validateImageManifest, validateSpec, checkSpec } from '@podkit/oci-spec';

export interface SampleReport {
  config: unknown;
  manifest: unknown;
  /** A deliberately broken config and the issues the validator found in it. */
  rejected: Array<{ path: string; reason: string }>;
}

export function buildSample(): SampleReport {
  const config = validateSpec(defaultSpec());
  const layer = Buffer.from('a sample layer');
  const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(layer)] } }));
  const manifest = validateImageManifest({
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    config: { mediaType: MediaType.ImageConfig, digest: digestOf(cfg), size: cfg.length },
    layers: [{ mediaType: MediaType.LayerGzip, digest: digestOf(layer), size: layer.length }],
  });
  const broken = JSON.parse(JSON.stringify(config)) as Record<string, unknown> & { linux: { namespaces: Array<{ type: string }> } };
  broken.linux.namespaces[0] = { type: 'bogus' };
  delete broken['ociVersion'];
  const result = checkSpec(broken);
  return { config, manifest, rejected: result.ok ? [] : result.issues };
}
