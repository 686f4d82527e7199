/**
 * The runtime-spec half of @podkit/oci-spec (its `./runtime-spec` subpath), loaded lazily and alone:
 * the package's index also loads the image-spec, digest and reference modules (node:crypto included),
 * which the CLI's hot verbs never use.
 */
type RuntimeSpecModule = typeof import('@podkit/oci-spec/runtime-spec');

let cached: RuntimeSpecModule | undefined;

export function ociRuntime(): RuntimeSpecModule {
  cached ??= require('@podkit/oci-spec/runtime-spec') as RuntimeSpecModule;
  return cached;
}
