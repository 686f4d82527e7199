/**
 * The runtime-spec half of @podkit/oci-spec, loaded lazily and alone. The package's index also loads
 * the image-spec, digest and reference modules (node:crypto included), which the CLI's hot verbs never
 * use: only its runtime-spec module (and, from the built package, the generated standalone
 * validators) is required, from beside the package's entry point (dist/ when built, src/ under jest).
 */
import * as path from 'node:path';
import type { DefaultSpecOptions, Features, Process, Spec } from '@podkit/oci-spec';

interface RuntimeSpecModule {
  OCI_VERSION: string;
  validateSpec(doc: unknown): Spec;
  validateProcess(doc: unknown): Process;
  validateFeatures(doc: unknown): Features;
  defaultSpec(opts?: DefaultSpecOptions): Spec;
}

/** Resolved (not required) here: only the runtime-spec module beside the entry point is loaded. */
const OCI_SPEC_PACKAGE = '@podkit/oci-spec';

let cached: RuntimeSpecModule | undefined;

export function ociRuntime(): RuntimeSpecModule {
  cached ??= require(path.join(path.dirname(require.resolve(OCI_SPEC_PACKAGE)), 'runtime-spec')) as RuntimeSpecModule;
  return cached;
}
