import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { isInvalidArgument } from '@podkit/errdefs';
import {
  createVerifier,
  Digester,
  digestOf,
  digestStream,
  formatDigest,
  isDigest,
  parseDigest,
  verifyDigest,
  type DigestAlgorithm,
} from './index';

const EMPTY_SHA256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isInvalidArgument(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected an InvalidArgumentError');
}

describe('parseDigest / formatDigest / isDigest', () => {
  it('parses sha256 and sha512', () => {
    expect(parseDigest(EMPTY_SHA256)).toEqual({ algorithm: 'sha256', encoded: EMPTY_SHA256.slice(7) });
    const s512 = `sha512:${'0'.repeat(128)}`;
    expect(parseDigest(s512)).toEqual({ algorithm: 'sha512', encoded: '0'.repeat(128) });
    expect(formatDigest('sha256', EMPTY_SHA256.slice(7))).toBe(EMPTY_SHA256);
    expect(isDigest(EMPTY_SHA256)).toBe(true);
  });

  it('rejects malformed digests naming the reason', () => {
    expect(reasonOf(() => parseDigest(''))).toBe('digest: must not be empty: ""');
    expect(reasonOf(() => parseDigest('e3b0c442'))).toMatch(/missing ":"/);
    expect(reasonOf(() => parseDigest(`md5:${'a'.repeat(32)}`))).toMatch(/unsupported digest algorithm "md5"/);
    expect(reasonOf(() => parseDigest(`sha256:${'A'.repeat(64)}`))).toMatch(/lowercase hex/);
    expect(reasonOf(() => parseDigest(`sha256:${'a'.repeat(63)}`))).toMatch(/64 hex characters, got 63/);
    expect(reasonOf(() => parseDigest(`sha512:${'a'.repeat(64)}`))).toMatch(/128 hex characters, got 64/);
    expect(reasonOf(() => parseDigest('sha256:'))).toMatch(/grammar/);
    expect(reasonOf(() => parseDigest('SHA256:abc'))).toMatch(/grammar/);
    expect(reasonOf(() => parseDigest(`sha256:${'a'.repeat(64)}\n`))).toMatch(/grammar/);
    expect(reasonOf(() => parseDigest(`sha256:${'a'.repeat(64)}`.padStart(80, ' ')))).toMatch(/grammar/);
    expect(reasonOf(() => formatDigest('sha256', 'zz'))).toMatch(/lowercase hex/);
    expect(reasonOf(() => parseDigest(`x:${'a'.repeat(64)}`, 'layers[0].digest'))).toMatch(/^layers\[0\]\.digest: unsupported/);
    expect(isDigest(42)).toBe(false);
  });
});

describe('computing and verifying', () => {
  it('digests buffers and strings, sha256 by default', () => {
    expect(digestOf('')).toBe(EMPTY_SHA256);
    expect(digestOf(Buffer.from('abc'), 'sha512')).toBe(`sha512:${createHash('sha512').update('abc').digest('hex')}`);
    expect(() => digestOf('x', 'md5' as DigestAlgorithm)).toThrow(/unsupported digest algorithm "md5"/);
  });

  it('Digester is incremental and counts bytes', () => {
    const d = new Digester();
    d.update('a').update(Buffer.from('bc')).update(new Uint8Array([100]));
    expect(d.algorithm).toBe('sha256');
    expect(d.size).toBe(4);
    expect(d.digest()).toBe(digestOf('abcd'));
    expect(d.digest()).toBe(digestOf('abcd'));
    expect(() => d.update('e')).toThrow(/after digest/);
    expect(new Digester('sha512').update('abcd').digest()).toBe(digestOf('abcd', 'sha512'));
  });

  it('digestStream reads a stream to its end', async () => {
    const chunks = [Buffer.from('hello '), Buffer.from('world')];
    await expect(digestStream(Readable.from(chunks))).resolves.toEqual({ digest: digestOf('hello world'), size: 11 });
    await expect(digestStream(Readable.from([]), 'sha512')).resolves.toEqual({ digest: digestOf('', 'sha512'), size: 0 });
    const failing = new Readable({
      read() {
        this.destroy(new Error('disk on fire'));
      },
    });
    await expect(digestStream(failing)).rejects.toThrow('disk on fire');
  });

  it('verifyDigest and createVerifier', () => {
    expect(verifyDigest(digestOf('x'), 'x')).toBe(true);
    expect(verifyDigest(digestOf('x'), 'y')).toBe(false);
    expect(verifyDigest(digestOf('x', 'sha512'), 'x')).toBe(true);
    expect(() => verifyDigest('sha256:nope', 'x')).toThrow(/^expected: /);
    const v = createVerifier(digestOf('abcdef'));
    v.update('abc').update(Buffer.from('def'));
    expect(v.size).toBe(6);
    expect(v.verified()).toBe(true);
    expect(createVerifier(digestOf('abcdef')).update('abc').verified()).toBe(false);
  });
});

describe('properties', () => {
  const algorithm = fc.constantFrom<DigestAlgorithm>('sha256', 'sha512');

  it('digestOf output parses back, formats back, and verifies its data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), algorithm, (bytes, alg) => {
        const d = digestOf(Buffer.from(bytes), alg);
        const p = parseDigest(d);
        expect(p.algorithm).toBe(alg);
        expect(formatDigest(p.algorithm, p.encoded)).toBe(d);
        expect(verifyDigest(d, Buffer.from(bytes))).toBe(true);
        const v = createVerifier(d);
        v.update(Buffer.from(bytes));
        expect(v.verified()).toBe(true);
      }),
    );
  });

  it('streaming in any chunking gives the one-shot digest', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 16 }), algorithm, async (chunks, alg) => {
        const buffers = chunks.map((c) => Buffer.from(c));
        const whole = Buffer.concat(buffers);
        const r = await digestStream(Readable.from(buffers), alg);
        expect(r).toEqual({ digest: digestOf(whole, alg), size: whole.length });
      }),
    );
  });

  it('well-formed hex of the right length round trips', () => {
    fc.assert(
      fc.property(algorithm, fc.integer({ min: 0, max: 2 ** 31 }), (alg, seed) => {
        const hex = createHash(alg).update(String(seed)).digest('hex');
        expect(parseDigest(`${alg}:${hex}`)).toEqual({ algorithm: alg, encoded: hex });
      }),
    );
  });

  it('garbage is rejected with an InvalidArgumentError, never accepted or crashing', () => {
    const valid = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.fullUnicodeString(), fc.stringMatching(/^[a-z0-9]{1,8}:[0-9a-fA-F]{0,130}$/)), (s) => {
        if (valid.test(s)) {
          expect(parseDigest(s).encoded).toBe(s.slice(s.indexOf(':') + 1));
        } else {
          expect(isDigest(s)).toBe(false);
          expect(reasonOf(() => parseDigest(s))).toMatch(/^digest: /);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a digest with one character changed is rejected or differs', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(63), fc.constantFrom('g', 'A', ':', ' ', ''), (bytes, i, ch) => {
        const d = digestOf(Buffer.from(bytes));
        const at = 7 + i;
        const mutated = d.slice(0, at) + ch + d.slice(at + 1);
        expect(isDigest(mutated)).toBe(false);
      }),
    );
  });
});
