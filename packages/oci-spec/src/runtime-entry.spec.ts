/** The `@podkit/oci-spec/runtime-spec` entry point: the runtime half alone. */
import runcSpec from './fixtures/runc-spec.json';
import { splitSchema, schemaOf } from './validate';

describe('@podkit/oci-spec/runtime-spec', () => {
  afterEach(() => jest.resetModules());

  it('validates and defaults without loading the image-spec, digest, reference or node:crypto modules', () => {
    const loaded: string[] = [];
    const forbid = (name: string) => () => {
      loaded.push(name);
      return {};
    };
    for (const m of ['./image-spec', './digest', './reference', './platform', './media-types', './schema/image']) jest.doMock(m, forbid(m));
    jest.doMock('node:crypto', forbid('node:crypto'));
    jest.doMock('crypto', forbid('crypto'));
    jest.isolateModules(() => {
      // eslint-disable-next-line @nx/enforce-module-boundaries -- this test is about the package's exports map
      const rt = require('@podkit/oci-spec/runtime-spec') as typeof import('./runtime-spec');
      expect(rt.validateSpec(runcSpec)).toBe(runcSpec);
      expect(rt.checkSpec(rt.defaultSpec({ rootless: true })).ok).toBe(true);
      expect(rt.validateProcess(runcSpec.process)).toBe(runcSpec.process);
      expect(rt.validateState({ ociVersion: rt.OCI_VERSION, id: 'a', status: 'stopped', bundle: '/b' }).status).toBe('stopped');
      expect(() => rt.validateSpec({ ociVersion: '1.2.0', process: { cwd: 'rel' } })).toThrow(/process\/cwd/);
    });
    expect(loaded).toEqual([]);
  });

  it('exports the same functions as the package index', () => {
    // eslint-disable-next-line @nx/enforce-module-boundaries -- this test is about the package's exports map
    const rt = require('@podkit/oci-spec/runtime-spec') as Record<string, unknown>;
    // eslint-disable-next-line @nx/enforce-module-boundaries -- this test is about the package's exports map
    const index = require('@podkit/oci-spec') as Record<string, unknown>;
    for (const name of ['checkSpec', 'validateSpec', 'checkProcess', 'validateProcess', 'checkState', 'validateState', 'checkFeatures', 'validateFeatures', 'defaultSpec', 'OCI_VERSION']) {
      expect(rt[name]).toBeDefined();
      expect(rt[name]).toBe(index[name]);
    }
  });
});

describe('splitSchema (generated validators: one function per object)', () => {
  it('moves every nested object schema to $defs and leaves no object schema inline', () => {
    const split = splitSchema(schemaOf('spec')) as { $defs: Record<string, object>; properties: Record<string, unknown> };
    expect(Object.keys(split.$defs).length).toBeGreaterThan(20);
    expect(split.properties['process']).toEqual({ $ref: '#/$defs/d_process' });
    const inline: string[] = [];
    const walk = (node: unknown, path: string, top: boolean): void => {
      if (typeof node !== 'object' || node === null) return;
      const o = node as Record<string, unknown>;
      if (!top && o['type'] === 'object') inline.push(path);
      for (const [k, v] of Object.entries(o)) if (k !== '$defs') walk(v, `${path}/${k}`, false);
    };
    walk(split, '', true);
    for (const [name, def] of Object.entries(split.$defs)) walk(def, `$defs/${name}`, true);
    expect(inline).toEqual([]);
  });

  it('does not change the schema it is given', () => {
    const before = JSON.stringify(schemaOf('features'));
    splitSchema(schemaOf('features'));
    expect(JSON.stringify(schemaOf('features'))).toBe(before);
  });
});
