import { buildSample } from './sample';

describe('demo sample', () => {
  it('validates the sample documents and reports every problem of a broken one with its path', () => {
    const r = buildSample();
    expect(r.config).toMatchObject({ ociVersion: expect.stringMatching(/^1\./), process: { args: ['sh'] } });
    expect(r.manifest).toMatchObject({ schemaVersion: 2, layers: [expect.objectContaining({ digest: expect.stringMatching(/^sha256:/) })] });
    const paths = r.rejected.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['/linux/namespaces/0/type']));
    expect(paths.some((p) => p === '' || p === '/' || p === '/ociVersion')).toBe(true);
  });
});
