import fc from 'fast-check';
import { isInvalidArgument } from '@podkit/errdefs';
import { familiarName, familiarString, formatReference, isReference, parseReference, referenceName, type Reference } from './index';

const D = `sha256:${'c'.repeat(64)}`;

function reasonOf(s: string): string {
  try {
    parseReference(s);
  } catch (err) {
    expect(isInvalidArgument(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(s)} to be rejected`);
}

describe('parseReference', () => {
  it.each<[string, Reference, string, string]>([
    ['busybox', { domain: 'docker.io', path: 'library/busybox', tag: 'latest' }, 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', { domain: 'docker.io', path: 'library/busybox', tag: '1.36' }, 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['library/busybox', { domain: 'docker.io', path: 'library/busybox', tag: 'latest' }, 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/library/busybox', { domain: 'docker.io', path: 'library/busybox', tag: 'latest' }, 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['index.docker.io/user/app:v1', { domain: 'docker.io', path: 'user/app', tag: 'v1' }, 'docker.io/user/app:v1', 'user/app:v1'],
    ['user/app', { domain: 'docker.io', path: 'user/app', tag: 'latest' }, 'docker.io/user/app:latest', 'user/app:latest'],
    ['docker.io/library/a/b', { domain: 'docker.io', path: 'library/a/b', tag: 'latest' }, 'docker.io/library/a/b:latest', 'library/a/b:latest'],
    ['host:5000/a/b:tag', { domain: 'host:5000', path: 'a/b', tag: 'tag' }, 'host:5000/a/b:tag', 'host:5000/a/b:tag'],
    ['localhost/app', { domain: 'localhost', path: 'app', tag: 'latest' }, 'localhost/app:latest', 'localhost/app:latest'],
    ['localhost:5000/app', { domain: 'localhost:5000', path: 'app', tag: 'latest' }, 'localhost:5000/app:latest', 'localhost:5000/app:latest'],
    ['127.0.0.1:5000/x_y__z-w.v', { domain: '127.0.0.1:5000', path: 'x_y__z-w.v', tag: 'latest' }, '127.0.0.1:5000/x_y__z-w.v:latest', '127.0.0.1:5000/x_y__z-w.v:latest'],
    ['[::1]:5000/app', { domain: '[::1]:5000', path: 'app', tag: 'latest' }, '[::1]:5000/app:latest', '[::1]:5000/app:latest'],
    ['Registry.Example.COM/ns/app', { domain: 'Registry.Example.COM', path: 'ns/app', tag: 'latest' }, 'Registry.Example.COM/ns/app:latest', 'Registry.Example.COM/ns/app:latest'],
    [`busybox@${D}`, { domain: 'docker.io', path: 'library/busybox', digest: D }, `docker.io/library/busybox@${D}`, `busybox@${D}`],
    [`busybox:1@${D}`, { domain: 'docker.io', path: 'library/busybox', tag: '1', digest: D }, `docker.io/library/busybox:1@${D}`, `busybox:1@${D}`],
    [`host:5000/a/b@${D}`, { domain: 'host:5000', path: 'a/b', digest: D }, `host:5000/a/b@${D}`, `host:5000/a/b@${D}`],
  ])('%s', (input, ref, full, familiar) => {
    expect(parseReference(input)).toEqual(ref);
    expect(formatReference(ref)).toBe(full);
    expect(familiarString(ref)).toBe(familiar);
    expect(parseReference(full)).toEqual(ref);
    expect(parseReference(familiar)).toEqual(ref);
    expect(isReference(input)).toBe(true);
  });

  it('reads host:5000 as repository "host" with tag "5000", as docker does', () => {
    expect(parseReference('host:5000')).toEqual({ domain: 'docker.io', path: 'library/host', tag: '5000' });
  });

  it('keeps docker.io in the familiar form when the first path component looks like a registry', () => {
    const ref = parseReference('docker.io/a.b/c');
    expect(ref).toEqual({ domain: 'docker.io', path: 'a.b/c', tag: 'latest' });
    expect(familiarString(ref)).toBe('docker.io/a.b/c:latest');
    expect(familiarString(parseReference('docker.io/localhost/c'))).toBe('docker.io/localhost/c:latest');
  });

  it('referenceName and familiarName', () => {
    const r = parseReference('busybox');
    expect(referenceName(r)).toBe('docker.io/library/busybox');
    expect(familiarName(r)).toBe('busybox');
    expect(familiarName(parseReference('quay.io/a/b'))).toBe('quay.io/a/b');
  });

  it.each<[string, RegExp]>([
    ['', /reference is empty/],
    [' busybox', /whitespace/],
    ['Busybox', /must be lowercase/],
    ['docker.io/Library/busybox', /must be lowercase/],
    ['busybox:', /tag is empty/],
    [`busybox:${'t'.repeat(129)}`, /tag is longer than 128 characters \(129\)/],
    ['busybox:-bad', /invalid tag "-bad"/],
    ['busybox:a/b', /invalid registry domain "busybox:a"/],
    ['busybox@sha256:abc', /invalid digest: sha256 digest must have 64 hex characters, got 3/],
    [`busybox@md5:${'a'.repeat(32)}`, /invalid digest: unsupported digest algorithm "md5"/],
    ['busybox@', /invalid digest/],
    [`busybox@${D}@${D}`, /invalid digest/],
    ['a//b', /invalid repository path/],
    ['a/b/', /invalid repository path/],
    ['host:5000/', /repository path is empty/],
    ['-a/b', /invalid repository path/],
    ['a__-b', /invalid repository path/],
    ['a..b', /invalid repository path/],
    ['exa_mple.com/app', /invalid registry domain/],
    ['-host.com/app', /invalid registry domain/],
    [':tag', /repository name is empty/],
    ['a'.repeat(64).replace(/a/g, 'e'), /64-character hexadecimal/],
    [`example.com/${'a'.repeat(250)}`, /must not be longer than 255 characters/],
    ['a b', /invalid repository path/],
  ])('rejects %j with the reason', (input, reason) => {
    const message = reasonOf(input);
    expect(message).toMatch(/^reference: /);
    expect(message).toMatch(reason);
    expect(isReference(input)).toBe(false);
  });

  it('accepts a tag of 128 characters and a 64-hex name with a registry', () => {
    expect(parseReference(`busybox:${'t'.repeat(128)}`).tag).toHaveLength(128);
    expect(parseReference(`example.com/${'e'.repeat(64)}`).path).toBe('e'.repeat(64));
  });
});

// ---- properties ------------------------------------------------------------------------------------

const alnum = fc.stringMatching(/^[a-z0-9]{1,6}$/);
const separator = fc.constantFrom('.', '_', '__', '-', '--');
const pathComponent = fc
  .tuple(alnum, fc.array(fc.tuple(separator, alnum), { maxLength: 2 }))
  .map(([head, rest]) => head + rest.map(([s, a]) => s + a).join(''));
const path = fc.array(pathComponent, { minLength: 1, maxLength: 3 }).map((c) => c.join('/'));
const domainLabel = fc.stringMatching(/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?$/);
const domain = fc.oneof(
  fc.tuple(domainLabel, fc.array(domainLabel, { minLength: 1, maxLength: 2 })).map(([a, b]) => [a, ...b].join('.')),
  fc.constant('localhost'),
  fc.constantFrom('docker.io', 'quay.io', '[::1]', '127.0.0.1'),
);
const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });
const tag = fc.stringMatching(/^[\w][\w.-]{0,20}$/);
const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const digest = fc.oneof(
  hex64.map((h) => `sha256:${h}`),
  fc.tuple(hex64, hex64).map(([a, b]) => `sha512:${a}${b}`),
);

const reference = fc
  .record({ domain, port, path, tag: fc.option(tag, { nil: undefined }), digest: fc.option(digest, { nil: undefined }) })
  .map(({ domain: d, port: p, path: pth, tag: t, digest: dg }) => {
    const dom = p !== undefined && d !== 'docker.io' ? `${d}:${p}` : d;
    const normalPath = dom === 'docker.io' && !pth.includes('/') ? `library/${pth}` : pth;
    const ref: Reference = { domain: dom, path: normalPath };
    if (t !== undefined) ref.tag = t;
    else if (dg === undefined) ref.tag = 'latest';
    if (dg !== undefined) ref.digest = dg;
    return ref;
  })
  .filter((r) => r.domain.length + 1 + r.path.length <= 255);

describe('reference properties', () => {
  it('full form and familiar form both parse back to the same reference', () => {
    fc.assert(
      fc.property(reference, (ref) => {
        expect(parseReference(formatReference(ref))).toEqual(ref);
        expect(parseReference(familiarString(ref))).toEqual(ref);
        const again = parseReference(formatReference(ref));
        expect(formatReference(again)).toBe(formatReference(ref));
      }),
      { numRuns: 500 },
    );
  });

  it('garbage is rejected with a reason, never crashes, and what parses is a fixed point', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.fullUnicodeString({ maxLength: 20 }), fc.stringMatching(/^[A-Za-z0-9:@/._-]{0,30}$/)), (s) => {
        let ref: Reference | undefined;
        try {
          ref = parseReference(s);
        } catch (err) {
          expect(isInvalidArgument(err)).toBe(true);
          expect((err as Error).message).toMatch(/^reference: ".*": .+/s);
          return;
        }
        expect(parseReference(formatReference(ref))).toEqual(ref);
      }),
      { numRuns: 1000 },
    );
  });

  it('uppercase in the repository path is always rejected', () => {
    fc.assert(
      fc.property(domain, path, fc.nat(), (d, p, i) => {
        const lower = [...p].map((c, k) => [c, k] as const).filter(([c]) => /[a-z]/.test(c));
        fc.pre(lower.length > 0);
        const at = lower[i % lower.length]![1];
        const upper = p.slice(0, at) + p[at]!.toUpperCase() + p.slice(at + 1);
        expect(reasonOf(`${d}/${upper}`)).toMatch(/repository name must be lowercase/);
      }),
    );
  });
});
