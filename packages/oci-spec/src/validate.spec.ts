import { createRequire } from 'node:module';
import { checkImageManifest, checkSpec, SCHEMA_IDS, schemaOf } from './index';
import { generateStandalone, issuesFromAjv, validatorFor, type CompiledValidator, type SchemaId } from './validate';
import dockerManifest from './fixtures/docker-manifest.json';
import ociConfig from './fixtures/oci-config.json';
import ociIndex from './fixtures/oci-index.json';
import ociLayout from './fixtures/oci-layout.json';
import ociManifest from './fixtures/oci-manifest.json';
import runcFeatures from './fixtures/runc-features.json';
import runcSpec from './fixtures/runc-spec.json';

/** Loads generated CommonJS source the way Node would, resolving `ajv/dist/runtime/*` from this package. */
function load(code: string): CompiledValidator {
  const mod = { exports: {} as CompiledValidator & { default?: CompiledValidator } };
  const req = createRequire(__filename);
  new Function('module', 'exports', 'require', code)(mod, mod.exports, req);
  return mod.exports.default ?? mod.exports;
}

const broken = (x: unknown): unknown => JSON.parse(JSON.stringify(x).replace(/"(sha256:)[0-9a-f]{4}/g, '"$1XYZW').replace(/:"linux"/g, ':7').replace(/:true/g, ':"yes"'));

const SAMPLES: Record<SchemaId, unknown[]> = {
  spec: [runcSpec, broken(runcSpec), { ociVersion: '9' }],
  process: [runcSpec.process, { cwd: 'x', user: { uid: 'a' } }],
  state: [{ ociVersion: '1.2.0', id: 'a', status: 'running', pid: 1, bundle: '/b' }, { status: 'paused' }],
  features: [runcFeatures, broken(runcFeatures)],
  descriptor: [ociIndex.manifests[0], broken(ociIndex.manifests[0]), {}],
  platform: [{ os: 'linux', architecture: 'arm' }, { os: 3 }],
  manifest: [ociManifest, dockerManifest, broken(ociManifest), { schemaVersion: 1 }],
  index: [ociIndex, broken(ociIndex)],
  config: [ociConfig, broken(ociConfig)],
  layout: [ociLayout, { imageLayoutVersion: 1 }],
  mount: [{ type: 'bind', source: '/', options: [] }, { type: 1 }],
};

describe('validation engine', () => {
  it('exposes a JSON Schema for every document, with properties and no additionalProperties restriction', () => {
    for (const id of SCHEMA_IDS) {
      const s = schemaOf(id) as { type?: string; properties?: object; additionalProperties?: unknown };
      expect(s.type).toBe('object');
      expect(s.properties).toBeDefined();
      expect(s.additionalProperties).toBeUndefined();
    }
  });

  it('compiles each validator once per process', () => {
    expect(validatorFor('spec')).toBe(validatorFor('spec'));
  });

  it.each(SCHEMA_IDS.map((id) => [id]))('the build-time standalone validator of %s agrees with the runtime compiler', (id) => {
    const generated = load(generateStandalone(id));
    const runtime = validatorFor(id);
    for (const doc of SAMPLES[id]) {
      const a = generated(doc);
      const b = runtime(doc);
      expect(a).toBe(b);
      if (!a) expect(issuesFromAjv(generated.errors ?? [], doc)).toEqual(issuesFromAjv(runtime.errors ?? [], doc));
    }
    // Each sample set has a valid and an invalid document.
    expect(SAMPLES[id].map((d) => runtime(d))).toEqual(expect.arrayContaining([true, false]));
  });

  it('checks are pure: the same document gives the same issues twice, and valid documents are returned as is', () => {
    const bad = broken(runcSpec);
    const first = checkSpec(bad);
    expect(checkSpec(bad)).toEqual(first);
    const ok = checkImageManifest(ociManifest);
    expect(ok.ok && ok.value).toBe(ociManifest);
  });
});
