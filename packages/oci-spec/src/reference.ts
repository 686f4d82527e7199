/**
 * Image references, after the distribution grammar (github.com/distribution/reference `regexp.go`) and
 * docker's normalisation (`normalize.go`): `busybox` → `docker.io/library/busybox:latest`.
 */
import { invalidField } from '@podkit/errdefs';
import { digestProblem, type Digest } from './digest';

export interface Reference {
  /** Registry host, with port if any: `docker.io`, `localhost:5000`, `[::1]:5000`. */
  domain: string;
  /** Repository path inside the registry: `library/busybox`, `a/b`. */
  path: string;
  tag?: string;
  digest?: Digest;
}

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
export const NAME_TOTAL_LENGTH_MAX = 255;

const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?$`);
const PATH_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const HEX64_RE = /^[a-f0-9]{64}$/;

function fail(input: string, reason: string): never {
  const shown = input.length > 100 ? `${input.slice(0, 97)}...` : input;
  throw invalidField('reference', `${JSON.stringify(shown)}: ${reason}`);
}

/** Why `tag` is not a valid tag, or undefined. */
export function tagProblem(tag: string): string | undefined {
  if (tag.length === 0) return 'tag is empty';
  if (tag.length > 128) return `tag is longer than 128 characters (${tag.length})`;
  if (!TAG_RE.test(tag)) return `invalid tag "${tag}": must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`;
  return undefined;
}

/**
 * Parses and normalises an image reference. Throws InvalidArgumentError (field `reference`) with the
 * reason for anything the grammar rejects. The tag defaults to `latest` only when there is no digest.
 */
export function parseReference(s: string): Reference {
  if (typeof s !== 'string') fail(String(s), 'must be a string');
  if (s.length === 0) fail(s, 'reference is empty');
  if (s !== s.trim()) fail(s, 'reference must not contain leading or trailing whitespace');
  let rest = s;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    const problem = digestProblem(d);
    if (problem !== undefined) fail(s, `invalid digest: ${problem}`);
    digest = d as Digest;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    const problem = tagProblem(tag);
    if (problem !== undefined) fail(s, problem);
  }
  if (rest.length === 0) fail(s, 'repository name is empty');
  if (HEX64_RE.test(rest)) fail(s, 'repository name cannot be a 64-character hexadecimal string (that is an image id)');

  // splitDockerDomain: the first component is a domain when it has a "." or ":", is "localhost",
  // or has an uppercase letter (which a path component never has).
  let domain: string;
  let path: string;
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  if (slash < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    path = rest;
  } else {
    domain = first;
    path = rest.slice(slash + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (!DOMAIN_RE.test(domain)) fail(s, `invalid registry domain "${domain}"`);
  if (path.length === 0) fail(s, 'repository path is empty');
  if (path.toLowerCase() !== path) fail(s, 'repository name must be lowercase');
  if (!PATH_RE.test(path)) {
    fail(s, `invalid repository path "${path}": components must be [a-z0-9] separated by ".", "_", "__" or "-", joined by "/"`);
  }
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_REPO_PREFIX + path;
  const nameLength = domain.length + 1 + path.length;
  if (nameLength > NAME_TOTAL_LENGTH_MAX) fail(s, `repository name must not be longer than ${NAME_TOTAL_LENGTH_MAX} characters (${nameLength})`);

  const ref: Reference = { domain, path };
  if (tag !== undefined) ref.tag = tag;
  else if (digest === undefined) ref.tag = DEFAULT_TAG;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** True when `s` parses as a reference. */
export function isReference(s: string): boolean {
  try {
    parseReference(s);
    return true;
  } catch {
    return false;
  }
}

/** `docker.io/library/busybox` */
export function referenceName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

function suffix(ref: Reference): string {
  return `${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** The full form: `docker.io/library/busybox:latest`, `host:5000/a/b:t@sha256:…`. */
export function formatReference(ref: Reference): string {
  return referenceName(ref) + suffix(ref);
}

/** The short form docker prints: `busybox:latest`, `user/app:1`, `host:5000/a/b:tag`. */
export function familiarName(ref: Reference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return referenceName(ref);
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX) && !ref.path.slice(OFFICIAL_REPO_PREFIX.length).includes('/')) {
    return ref.path.slice(OFFICIAL_REPO_PREFIX.length);
  }
  // `docker.io/a.b/c` must keep its domain: `a.b/c` would read as registry a.b (docker itself gets this wrong).
  const first = ref.path.slice(0, ref.path.indexOf('/'));
  return first.includes('.') || first === 'localhost' ? referenceName(ref) : ref.path;
}

export function familiarString(ref: Reference): string {
  return familiarName(ref) + suffix(ref);
}
