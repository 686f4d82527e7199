import { isInvalidArgument, type FieldIssue } from '@podkit/errdefs';
import {
  checkDescriptor,
  checkImageConfig,
  checkImageIndex,
  checkImageManifest,
  checkMountDescriptor,
  checkOciLayout,
  checkPlatform,
  digestOf,
  MediaType,
  validateDescriptor,
  validateImageConfig,
  validateImageIndex,
  validateImageManifest,
  validateMountDescriptor,
  validateOciLayout,
  validatePlatform,
  type ImageConfig,
} from './index';
import dockerManifest from './fixtures/docker-manifest.json';
import ociConfig from './fixtures/oci-config.json';
import ociIndex from './fixtures/oci-index.json';
import ociLayout from './fixtures/oci-layout.json';
import ociManifest from './fixtures/oci-manifest.json';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const clone = <T>(x: T): T => structuredClone(x);
function issuesOf(r: { ok: true } | { ok: false; issues: FieldIssue[] }): FieldIssue[] {
  if (r.ok) throw new Error('expected the document to be rejected');
  return r.issues;
}
const paths = (issues: FieldIssue[]) => issues.map((i) => i.path);

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha512:${'b'.repeat(128)}`;

/** A manifest list as Docker Hub serves it (with the `features` and arm variants). */
const dockerManifestList = {
  schemaVersion: 2,
  mediaType: MediaType.DockerManifestList,
  manifests: [
    { mediaType: MediaType.DockerManifest, size: 528, digest: D1, platform: { architecture: 'amd64', os: 'linux' } },
    { mediaType: MediaType.DockerManifest, size: 528, digest: D1, platform: { architecture: 'arm', os: 'linux', variant: 'v7' } },
    {
      mediaType: MediaType.DockerManifest,
      size: 528,
      digest: D1,
      platform: { architecture: 'amd64', os: 'windows', 'os.version': '10.0.17763.5122', 'os.features': ['win32k'], features: ['sse4'] },
    },
  ],
};

/** A container config as `docker build` writes it: null for empty lists and maps. */
const dockerConfig = {
  architecture: 'amd64',
  os: 'linux',
  created: '2023-05-19T20:19:22.751398522Z',
  docker_version: '20.10.23',
  config: {
    Hostname: '',
    User: '',
    AttachStdin: false,
    ExposedPorts: null,
    Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    Cmd: ['sh'],
    Image: 'sha256:bd9bd7d0f9e6bd6ab4ae3f1bb5f3d5c9e1b1b1aa1b4f2c4f4fe6b1f7ac4b2d4b',
    Volumes: null,
    WorkingDir: '',
    Entrypoint: null,
    OnBuild: null,
    Labels: null,
    Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 30000000000, Retries: 3 },
  },
  rootfs: { type: 'layers', diff_ids: [D1] },
  history: [{ created: '2023-05-19T20:19:22.642145022Z', created_by: '/bin/sh -c #(nop) ADD file:abc in / ' }],
};

describe('descriptor', () => {
  const d = { mediaType: MediaType.LayerGzip, digest: D1, size: 12 };

  it('accepts minimal and full descriptors, sha256 and sha512', () => {
    expect(validateDescriptor(d)).toBe(d);
    const data = Buffer.from('{"a":1}');
    const full = {
      mediaType: MediaType.ImageManifest,
      digest: digestOf(data, 'sha512'),
      size: data.length,
      urls: ['https://example.com/blob'],
      annotations: { 'org.opencontainers.image.ref.name': 'v1' },
      data: data.toString('base64'),
      artifactType: 'application/vnd.example+type',
      platform: { architecture: 'arm64', os: 'linux', variant: 'v8', 'os.version': '6.1', 'os.features': ['x'] },
    };
    expect(checkDescriptor(full)).toEqual({ ok: true, value: full });
    expect(checkDescriptor({ ...d, digest: D2 }).ok).toBe(true);
  });

  it('rejects bad digests, sizes, media types and embedded data', () => {
    expect(issuesOf(checkDescriptor({ mediaType: 'not a type', digest: 'sha256:ABC', size: -1, urls: 'x', data: '!!' }))).toEqual([
      { path: '/mediaType', reason: expect.stringMatching(/^must be a media type/) },
      { path: '/digest', reason: expect.stringMatching(/^must be a sha256 or sha512 digest/) },
      { path: '/size', reason: 'must be >= 0, got -1' },
      { path: '/urls', reason: 'must be an array, got string' },
      { path: '/data', reason: 'must be base64 (RFC 4648) data, got "!!"' },
    ]);
    expect(paths(issuesOf(checkDescriptor({ ...d, digest: `md5:${'a'.repeat(32)}` })))).toEqual(['/digest']);
    expect(paths(issuesOf(checkDescriptor({})))).toEqual(['/mediaType', '/digest', '/size']);
    const data = Buffer.from('hello').toString('base64');
    expect(issuesOf(checkDescriptor({ ...d, data }))).toEqual([
      { path: '/data', reason: 'decodes to 5 bytes but size is 12' },
      { path: '/data', reason: `does not match digest ${D1}` },
    ]);
  });

  it('checks embedded data only against a well-formed digest and size, also in a malformed document', () => {
    const data = Buffer.from('hello').toString('base64');
    expect(issuesOf(checkDescriptor({ ...d, digest: 'sha256:zz', data }))).toEqual([
      { path: '/digest', reason: expect.stringMatching(/^must be a sha256/) },
    ]);
    expect(issuesOf(checkDescriptor({ ...d, size: 5, urls: 7, data }))).toEqual([
      { path: '/urls', reason: 'must be an array, got integer' },
      { path: '/data', reason: `does not match digest ${D1}` },
    ]);
  });

  it('rejects a platform without os and architecture', () => {
    expect(paths(issuesOf(checkDescriptor({ ...d, platform: { variant: 'v7' } })))).toEqual(['/platform/architecture', '/platform/os']);
    expect(validatePlatform({ os: 'linux', architecture: 'amd64' })).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(paths(issuesOf(checkPlatform({ os: '', architecture: 'amd64', 'os.features': [1] })))).toEqual(['/os', '/os.features/0']);
  });
});

describe('image manifest', () => {
  it('accepts the OCI manifest umoci wrote and the Docker v2 schema 2 manifest skopeo converted', () => {
    expect(validateImageManifest(ociManifest)).toBe(ociManifest);
    expect(validateImageManifest(dockerManifest)).toBe(dockerManifest);
    expect(dockerManifest.mediaType).toBe(MediaType.DockerManifest);
  });

  it('accepts an artifact manifest with the empty config, a subject and annotations', () => {
    const m = {
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      artifactType: 'application/vnd.example.sbom.v1',
      config: { mediaType: MediaType.Empty, digest: digestOf('{}'), size: 2, data: 'e30=' },
      layers: [{ mediaType: 'application/spdx+json', digest: D1, size: 100 }],
      subject: { mediaType: MediaType.ImageManifest, digest: D2, size: 1000 },
      annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
    };
    expect(validateImageManifest(m)).toBe(m);
    const { artifactType: _a, ...noArtifactType } = m;
    expect(issuesOf(checkImageManifest(noArtifactType))).toEqual([
      { path: '/artifactType', reason: `is required when config.mediaType is "${MediaType.Empty}"` },
    ]);
  });

  it('rejects schema 1, an index media type, missing layers and bad descriptors, with paths', () => {
    const m = clone(ociManifest) as Doc;
    m['schemaVersion'] = 1;
    m['mediaType'] = MediaType.ImageIndex;
    m['layers'][0].digest = 'sha256:xyz';
    delete m['config'].size;
    expect(issuesOf(checkImageManifest(m))).toEqual([
      { path: '/schemaVersion', reason: 'must be 2, got 1' },
      { path: '/mediaType', reason: expect.stringMatching(/^unknown value "application\/vnd\.oci\.image\.index\.v1\+json"; expected one of /) },
      { path: '/config/size', reason: 'is required' },
      { path: '/layers/0/digest', reason: expect.stringMatching(/sha256/) },
    ]);
    const { layers: _l, ...noLayers } = ociManifest;
    expect(() => validateImageManifest(noLayers)).toThrow(/^invalid image manifest: \/layers: is required$/);
  });
});

describe('image index', () => {
  it('accepts the index.json of an OCI layout and a Docker manifest list', () => {
    expect(validateImageIndex(ociIndex)).toBe(ociIndex);
    expect(validateImageIndex(dockerManifestList)).toBe(dockerManifestList);
    expect(checkImageIndex({ schemaVersion: 2, manifests: [] }).ok).toBe(true);
  });

  it('rejects bad ones with paths', () => {
    const x = clone(dockerManifestList) as Doc;
    x['mediaType'] = MediaType.DockerManifest;
    x['manifests'][1].platform.os = 7;
    x['manifests'][2].size = '528';
    expect(paths(issuesOf(checkImageIndex(x)))).toEqual(['/mediaType', '/manifests/1/platform/os', '/manifests/2/size']);
    expect(paths(issuesOf(checkImageIndex({ schemaVersion: 2 })))).toEqual(['/manifests']);
    try {
      validateImageIndex({ schemaVersion: 2, manifests: {} });
      throw new Error('not reached');
    } catch (err) {
      expect(isInvalidArgument(err)).toBe(true);
      expect((err as Error).message).toBe('invalid image index: /manifests: must be an array, got object');
    }
  });
});

describe('image config', () => {
  it('accepts the OCI config umoci wrote and a Docker config with nulls', () => {
    expect(validateImageConfig(ociConfig)).toBe(ociConfig);
    const c: ImageConfig = validateImageConfig(dockerConfig);
    expect(c.config?.Entrypoint).toBeNull();
  });

  it('rejects bad ones with paths', () => {
    const c = clone(ociConfig) as Doc;
    c['rootfs'].type = 'tarballs';
    c['rootfs'].diff_ids[0] = 'sha256:nothex';
    c['config'].Env = 'A=1';
    c['config'].ExposedPorts = { '80/tcp': 1 };
    c['history'][0].created = 'yesterday';
    c['history'][1].empty_layer = 'no';
    delete c['architecture'];
    expect(issuesOf(checkImageConfig(c))).toEqual([
      { path: '/architecture', reason: 'is required' },
      { path: '/config/ExposedPorts/80~1tcp', reason: 'must be an object, got integer' },
      { path: '/config/Env', reason: 'must be an array or null, got string' },
      { path: '/rootfs/type', reason: 'must be "layers", got "tarballs"' },
      { path: '/rootfs/diff_ids/0', reason: expect.stringMatching(/^must be a sha256 or sha512 digest/) },
      { path: '/history/0/created', reason: expect.stringMatching(/^must be an RFC 3339 date-time/) },
      { path: '/history/1/empty_layer', reason: 'must be a boolean, got string' },
    ]);
    expect(paths(issuesOf(checkImageConfig({ os: 'linux', architecture: 'amd64' })))).toEqual(['/rootfs']);
  });
});

describe('oci-layout', () => {
  it('accepts the file umoci wrote', () => {
    expect(validateOciLayout(ociLayout)).toBe(ociLayout);
  });
  it('rejects other versions', () => {
    expect(issuesOf(checkOciLayout({ imageLayoutVersion: '2.0.0' }))).toEqual([
      { path: '/imageLayoutVersion', reason: 'must be a 1.x image layout version such as "1.0.0", got "2.0.0"' },
    ]);
    expect(() => validateOciLayout({})).toThrow('invalid oci-layout: /imageLayoutVersion: is required');
  });
});

describe('mount descriptor', () => {
  it('accepts what snapshotters return', () => {
    const overlay = { type: 'overlay', source: 'overlay', options: ['lowerdir=/a:/b', 'upperdir=/u', 'workdir=/w'] };
    expect(validateMountDescriptor(overlay)).toBe(overlay);
    expect(checkMountDescriptor({ type: 'bind', source: '/x', target: 'sub', options: ['rbind', 'ro'] }).ok).toBe(true);
  });
  it('rejects bad ones with paths', () => {
    expect(issuesOf(checkMountDescriptor({ type: '', source: 1, options: [3] }))).toEqual([
      { path: '/type', reason: 'must not be empty' },
      { path: '/source', reason: 'must be a string, got integer' },
      { path: '/options/0', reason: 'must be a string, got integer' },
    ]);
    expect(() => validateMountDescriptor({ type: 'bind', source: '/x' })).toThrow('invalid mount descriptor: /options: is required');
  });
});
