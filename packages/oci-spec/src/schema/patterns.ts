/** Regular expressions used by the schemas, each with the reason reported when a value does not match. */

/** Patterns with the human reason reported when a value does not match (see validate.ts). */
export const PATTERNS = {
  ociVersion: {
    pattern: '^1\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$',
    reason: 'must be a 1.x SemVer version such as "1.2.0" or "1.0.2-dev"',
  },
  absolutePath: { pattern: '^/', reason: 'must be an absolute path' },
  digest: {
    pattern: '^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$',
    reason: 'must be a sha256 or sha512 digest ("sha256:" followed by 64 lowercase hex characters)',
  },
  mediaType: {
    pattern: '^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$',
    reason: 'must be a media type such as "application/vnd.oci.image.manifest.v1+json" (RFC 6838)',
  },
  base64: {
    pattern: '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$',
    reason: 'must be base64 (RFC 4648) data',
  },
  capability: { pattern: '^CAP_[A-Z0-9_]+$', reason: 'must be a capability name such as "CAP_CHOWN"' },
  deviceAccess: { pattern: '^[rwm]{0,3}$', reason: 'must be a combination of "r", "w" and "m"' },
  rfc3339: {
    pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$',
    reason: 'must be an RFC 3339 date-time such as "2024-01-02T03:04:05Z"',
  },
  layoutVersion: { pattern: '^1\\.[0-9]+\\.[0-9]+$', reason: 'must be a 1.x image layout version such as "1.0.0"' },
} as const;
