import { isInvalidArgument } from '@podkit/errdefs';
import { defaultPlatform, formatPlatform, matchPlatform, normalizePlatform, parsePlatform, selectPlatform, type Descriptor, type Platform } from './index';

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', s390x: 's390x', riscv64: 'riscv64' };

describe('defaultPlatform', () => {
  it('is linux on the GOARCH name of this CPU', () => {
    const p = defaultPlatform();
    expect(p.os).toBe('linux');
    if (GOARCH[process.arch] !== undefined) expect(p.architecture).toBe(GOARCH[process.arch]);
    if (p.architecture === 'arm') expect(p.variant).toMatch(/^v[5-8]$/);
    else if (p.architecture === 'arm64') expect(p.variant).toBe('v8');
    else expect(p.variant).toBeUndefined();
    expect(matchPlatform(p, p)).toBe(true);
  });
});

describe('normalizePlatform', () => {
  it.each<[Platform, Platform]>([
    [{ os: 'Linux', architecture: 'x86_64' }, { os: 'linux', architecture: 'amd64' }],
    [{ os: 'linux', architecture: 'x86-64', variant: 'v1' }, { os: 'linux', architecture: 'amd64' }],
    [{ os: 'linux', architecture: 'amd64', variant: 'v3' }, { os: 'linux', architecture: 'amd64', variant: 'v3' }],
    [{ os: 'linux', architecture: 'aarch64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    [{ os: 'linux', architecture: 'arm64', variant: '8' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    [{ os: 'linux', architecture: 'armhf' }, { os: 'linux', architecture: 'arm', variant: 'v7' }],
    [{ os: 'linux', architecture: 'armel' }, { os: 'linux', architecture: 'arm', variant: 'v6' }],
    [{ os: 'linux', architecture: 'arm' }, { os: 'linux', architecture: 'arm', variant: 'v7' }],
    [{ os: 'linux', architecture: 'arm', variant: '6' }, { os: 'linux', architecture: 'arm', variant: 'v6' }],
    [{ os: 'linux', architecture: 'i386' }, { os: 'linux', architecture: '386' }],
    [{ os: 'macOS', architecture: 'arm64' }, { os: 'darwin', architecture: 'arm64', variant: 'v8' }],
    [
      { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763', 'os.features': ['win32k'] },
      { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763', 'os.features': ['win32k'] },
    ],
  ])('%j → %j', (input, want) => {
    expect(normalizePlatform(input)).toEqual(want);
  });
});

describe('parsePlatform / formatPlatform', () => {
  it('parses os/arch[/variant] and formats back', () => {
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux/amd64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('linux/arm')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(parsePlatform('Linux/X86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('arm64')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux')).toEqual(normalizePlatform(defaultPlatform()));
    for (const s of ['linux/arm64/v8', 'linux/amd64', 'windows/amd64', 'linux/arm/v6', 'linux/riscv64']) {
      expect(formatPlatform(parsePlatform(s))).toBe(s);
    }
  });

  it('rejects malformed ones with the reason', () => {
    for (const [s, reason] of [
      ['', /platform is empty/],
      ['linux/amd64/v3/x', /expected os\[\/architecture\[\/variant\]\]/],
      ['linux//v7', /invalid component ""/],
      ['linux/am d64', /invalid component "am d64"/],
      ['potato', /unknown operating system or architecture "potato"/],
    ] as const) {
      try {
        parsePlatform(s);
        throw new Error(`expected ${s} to be rejected`);
      } catch (err) {
        expect(isInvalidArgument(err)).toBe(true);
        expect((err as Error).message).toMatch(/^platform: /);
        expect((err as Error).message).toMatch(reason);
      }
    }
  });
});

describe('matchPlatform', () => {
  const p = parsePlatform;
  it('needs the same os and architecture', () => {
    expect(matchPlatform(p('linux/amd64'), p('linux/amd64'))).toBe(true);
    expect(matchPlatform(p('linux/amd64'), { os: 'linux', architecture: 'x86_64' })).toBe(true);
    expect(matchPlatform(p('linux/amd64'), p('linux/arm64'))).toBe(false);
    expect(matchPlatform(p('linux/amd64'), p('windows/amd64'))).toBe(false);
  });

  it('accepts older variants of the same architecture, not newer ones', () => {
    expect(matchPlatform(p('linux/arm/v7'), p('linux/arm/v6'))).toBe(true);
    expect(matchPlatform(p('linux/arm/v7'), p('linux/arm/v5'))).toBe(true);
    expect(matchPlatform(p('linux/arm/v6'), p('linux/arm/v7'))).toBe(false);
    expect(matchPlatform(p('linux/arm64/v8'), { os: 'linux', architecture: 'arm64' })).toBe(true);
    expect(matchPlatform({ os: 'linux', architecture: 'arm64', variant: 'v9' }, p('linux/arm64/v8'))).toBe(true);
    expect(matchPlatform(p('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v9' })).toBe(false);
    expect(matchPlatform({ os: 'linux', architecture: 'amd64', variant: 'v3' }, { os: 'linux', architecture: 'amd64', variant: 'v2' })).toBe(true);
    expect(matchPlatform({ os: 'linux', architecture: 'amd64', variant: 'v2' }, { os: 'linux', architecture: 'amd64', variant: 'v3' })).toBe(false);
    // A host that names no variant accepts any.
    expect(matchPlatform({ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'amd64', variant: 'v3' })).toBe(true);
    expect(matchPlatform({ os: 'linux', architecture: 'riscv64', variant: 'rva20' }, { os: 'linux', architecture: 'riscv64', variant: 'rva22' })).toBe(false);
  });

  it('checks os.version when both name one, and os.features the image needs', () => {
    const host: Platform = { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1', 'os.features': ['win32k'] };
    expect(matchPlatform(host, { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' })).toBe(true);
    expect(matchPlatform(host, { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.1' })).toBe(false);
    expect(matchPlatform(host, { os: 'windows', architecture: 'amd64', 'os.features': ['win32k'] })).toBe(true);
    expect(matchPlatform({ ...host, 'os.features': [] }, { os: 'windows', architecture: 'amd64', 'os.features': ['win32k'] })).toBe(false);
    expect(matchPlatform({ os: 'windows', architecture: 'amd64' }, host)).toBe(false);
  });
});

describe('selectPlatform', () => {
  const d = (n: number, platform?: Platform): Descriptor => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
    size: n,
    ...(platform ? { platform } : {}),
  });
  const manifests = [
    d(1, { os: 'linux', architecture: 'amd64' }),
    d(2, { os: 'linux', architecture: 'arm', variant: 'v6' }),
    d(3, { os: 'linux', architecture: 'arm', variant: 'v7' }),
    d(4, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    d(5, { os: 'unknown', architecture: 'unknown' }),
    d(6, { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' }),
    d(7, { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.1' }),
  ];

  it('picks the exact match, else the newest compatible variant', () => {
    expect(selectPlatform(manifests, parsePlatform('linux/amd64'))?.size).toBe(1);
    expect(selectPlatform(manifests, parsePlatform('linux/arm/v7'))?.size).toBe(3);
    expect(selectPlatform(manifests, parsePlatform('linux/arm/v6'))?.size).toBe(2);
    expect(selectPlatform([manifests[1]!, manifests[0]!], parsePlatform('linux/arm/v8'))?.size).toBe(2);
    expect(selectPlatform(manifests, { os: 'linux', architecture: 'aarch64' })?.size).toBe(4);
    expect(selectPlatform(manifests, { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.1' })?.size).toBe(7);
  });

  it('defaults to this machine and returns undefined when nothing fits', () => {
    const here = selectPlatform(manifests);
    if (here !== undefined) expect(matchPlatform(defaultPlatform(), here.platform!)).toBe(true);
    expect(selectPlatform(manifests, parsePlatform('linux/s390x'))).toBeUndefined();
    expect(selectPlatform([], parsePlatform('linux/amd64'))).toBeUndefined();
  });

  it('falls back to an entry without platform only when nothing matches', () => {
    expect(selectPlatform([d(8), ...manifests], parsePlatform('linux/amd64'))?.size).toBe(1);
    expect(selectPlatform([...manifests, d(8)], parsePlatform('linux/s390x'))?.size).toBe(8);
  });
});
