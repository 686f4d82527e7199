/**
 * Content digests (image-spec `descriptor.md#digests`): `algorithm ":" encoded`, with the two registered
 * algorithms sha256 (64 lowercase hex) and sha512 (128 lowercase hex).
 */
import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { invalidField } from '@podkit/errdefs';

/** A validated digest string such as `sha256:e3b0c4…`. The brand keeps unchecked strings out. */
export type Digest = string & { readonly __digest?: unique symbol };

export type DigestAlgorithm = 'sha256' | 'sha512';

export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = ['sha256', 'sha512'];

const HEX_LENGTH: Readonly<Record<DigestAlgorithm, number>> = { sha256: 64, sha512: 128 };

/** The general grammar of image-spec: `algorithm-component ([+._-] algorithm-component)* ":" [a-zA-Z0-9=_-]+`. */
const GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Why `s` is not a valid digest, or undefined when it is one. */
export function digestProblem(s: unknown): string | undefined {
  if (typeof s !== 'string') return `must be a string, got ${typeName(s)}`;
  if (s.length === 0) return 'must not be empty';
  const colon = s.indexOf(':');
  if (colon < 0) return 'missing ":" between algorithm and encoded part';
  if (!GRAMMAR.test(s)) return 'does not match the digest grammar algorithm:encoded';
  const algorithm = s.slice(0, colon);
  const encoded = s.slice(colon + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') return `unsupported digest algorithm "${algorithm}" (expected sha256 or sha512)`;
  const want = HEX_LENGTH[algorithm];
  if (!/^[a-f0-9]+$/.test(encoded)) return `${algorithm} digest must be lowercase hex`;
  if (encoded.length !== want) return `${algorithm} digest must have ${want} hex characters, got ${encoded.length}`;
  return undefined;
}

/** Splits a digest into algorithm and hex; throws InvalidArgumentError naming the reason when malformed. */
export function parseDigest(s: string, field = 'digest'): { algorithm: DigestAlgorithm; encoded: string } {
  const problem = digestProblem(s);
  if (problem !== undefined) throw invalidField(field, `${problem}: ${JSON.stringify(truncate(s))}`);
  const colon = s.indexOf(':');
  return { algorithm: s.slice(0, colon) as DigestAlgorithm, encoded: s.slice(colon + 1) };
}

export function isDigest(s: unknown): s is Digest {
  return digestProblem(s) === undefined;
}

/** `formatDigest('sha256', hex)` → `sha256:hex`, validated. */
export function formatDigest(algorithm: DigestAlgorithm, hex: string): Digest {
  const s = `${algorithm}:${hex}`;
  parseDigest(s);
  return s as Digest;
}

function checkAlgorithm(algorithm: string): DigestAlgorithm {
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw invalidField('algorithm', `unsupported digest algorithm "${algorithm}" (expected sha256 or sha512)`);
  }
  return algorithm;
}

/** The digest of a buffer or a (UTF-8) string. */
export function digestOf(data: Buffer | Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${checkAlgorithm(algorithm)}:${createHash(algorithm).update(data).digest('hex')}` as Digest;
}

/** Incremental digest computation. */
export class Digester {
  readonly algorithm: DigestAlgorithm;
  private readonly hash: Hash;
  private bytes = 0;
  private result: Digest | undefined;

  constructor(algorithm: DigestAlgorithm = 'sha256') {
    this.algorithm = checkAlgorithm(algorithm);
    this.hash = createHash(algorithm);
  }

  update(data: Buffer | Uint8Array | string): this {
    if (this.result !== undefined) throw invalidField('digester', 'update() after digest()');
    this.hash.update(data);
    this.bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    return this;
  }

  /** Number of bytes seen so far. */
  get size(): number {
    return this.bytes;
  }

  /** The digest of everything written; may be called more than once. */
  digest(): Digest {
    this.result ??= `${this.algorithm}:${this.hash.digest('hex')}` as Digest;
    return this.result;
  }
}

/** Reads a stream to its end and returns its digest and size. */
export async function digestStream(
  readable: Readable | AsyncIterable<Buffer | Uint8Array | string>,
  algorithm: DigestAlgorithm = 'sha256',
): Promise<{ digest: Digest; size: number }> {
  const d = new Digester(algorithm);
  for await (const chunk of readable as AsyncIterable<Buffer | Uint8Array | string>) d.update(chunk);
  return { digest: d.digest(), size: d.size };
}

/** True when `data` hashes to `expected`; throws InvalidArgumentError when `expected` is malformed. */
export function verifyDigest(expected: string, data: Buffer | Uint8Array | string): boolean {
  const { algorithm } = parseDigest(expected, 'expected');
  return digestOf(data, algorithm) === expected;
}

/** A streaming verifier: feed it with update(), then ask verified(). */
export interface Verifier {
  update(data: Buffer | Uint8Array | string): Verifier;
  verified(): boolean;
  readonly expected: Digest;
  readonly size: number;
}

export function createVerifier(expected: string): Verifier {
  const { algorithm } = parseDigest(expected, 'expected');
  const d = new Digester(algorithm);
  const v: Verifier = {
    expected: expected as Digest,
    get size() {
      return d.size;
    },
    update(data) {
      d.update(data);
      return v;
    },
    verified() {
      return d.digest() === expected;
    },
  };
  return v;
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function truncate(s: unknown): unknown {
  return typeof s === 'string' && s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
