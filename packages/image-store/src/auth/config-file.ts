/**
 * Credentials in the docker `config.json` format, as `docker login`, podman and skopeo write them:
 *
 *   { "auths": { "registry.example:5000": { "auth": base64("user:password") },
 *                "https://index.docker.io/v1/": { "auth": "…" },
 *                "other.example": { "identitytoken": "<OAuth2 refresh token>" } } }
 *
 * Also understood: `username`/`password` fields beside `auth`, and keys written as URLs
 * (`https://host/v1/`). Docker Hub is stored under `https://index.docker.io/v1/`, as docker does.
 * Other keys of the file (credsStore, proxies, …) are kept as they are when we write it.
 * The file is written atomically with mode 0600; credentials never appear in error messages.
 */
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidArgumentError, invalidField } from '@podkit/errdefs';
import { writeFileAtomic } from '../fsutil';

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (`identitytoken`): exchanged at the token endpoint instead of a password. */
  identityToken?: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  [k: string]: unknown;
}

interface ConfigDoc {
  auths?: Record<string, AuthEntry>;
  [k: string]: unknown;
}

export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

/**
 * The credentials file path: `--auth-file`, else `$DOCKER_CONFIG/config.json`, else
 * `~/.docker/config.json`.
 */
export function defaultAuthFile(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env['DOCKER_CONFIG'];
  if (dir && dir.length > 0) return path.join(dir, 'config.json');
  return path.join(env['HOME'] || os.homedir(), '.docker', 'config.json');
}

/** The key a registry host is stored under (`docker.io` and its aliases → the Docker Hub URL key). */
export function registryKey(registry: string): string {
  const host = normalizeHost(registry);
  return host === 'docker.io' ? DOCKER_HUB_KEY : host;
}

/** `https://host:5000/v1/` → `host:5000`; docker.io aliases → `docker.io`. */
export function normalizeHost(key: string): string {
  let h = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  h = h.replace(/\/.*$/, '').toLowerCase();
  if (h === 'index.docker.io' || h === 'registry-1.docker.io' || h === 'docker.io' || h === 'registry.hub.docker.com') return 'docker.io';
  return h;
}

function decodeEntry(e: AuthEntry, file: string, key: string): Credentials | undefined {
  const out: Credentials = {};
  if (typeof e.auth === 'string' && e.auth.length > 0) {
    const decoded = Buffer.from(e.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // Never echo the value: say where it is and what is wrong.
    if (colon <= 0) throw new InvalidArgumentError(`${file}: auths["${key}"].auth is not base64 of "user:password"`, { details: { field: `auths.${key}.auth` } });
    out.username = decoded.slice(0, colon);
    out.password = decoded.slice(colon + 1);
  }
  if (typeof e.username === 'string' && e.username.length > 0) out.username = e.username;
  if (typeof e.password === 'string' && e.password.length > 0) out.password = e.password;
  if (typeof e.identitytoken === 'string' && e.identitytoken.length > 0) out.identityToken = e.identitytoken;
  if (out.password === undefined && out.identityToken === undefined) return undefined;
  return out;
}

async function readDoc(file: string): Promise<ConfigDoc> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  if (text.trim().length === 0) return {};
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // The parser's message could quote a fragment of the file (a secret): keep it out.
    throw new InvalidArgumentError(`${file}: not valid JSON`, { details: { field: 'auths' } });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new InvalidArgumentError(`${file}: must be a JSON object`, { details: { field: '' } });
  const auths = (doc as ConfigDoc).auths;
  if (auths !== undefined && (typeof auths !== 'object' || auths === null || Array.isArray(auths))) throw invalidField('auths', `${file}: must be an object`);
  return doc as ConfigDoc;
}

/** A docker-format credentials file. */
export class AuthFile {
  constructor(readonly file: string = defaultAuthFile()) {}

  /** The credentials for a registry host, or undefined (anonymous). */
  async get(registry: string): Promise<Credentials | undefined> {
    const doc = await readDoc(this.file);
    const want = normalizeHost(registry);
    const auths = doc.auths ?? {};
    // An exact key first, then any key that normalises to the same host (URL forms).
    const exact = auths[registryKey(registry)];
    if (exact && typeof exact === 'object') return decodeEntry(exact, this.file, registryKey(registry));
    for (const [k, e] of Object.entries(auths)) {
      if (normalizeHost(k) === want && e && typeof e === 'object') return decodeEntry(e, this.file, k);
    }
    return undefined;
  }

  /** Stores credentials for a registry (the `auth` field; other keys of the file are kept). */
  async set(registry: string, creds: { username: string; password: string }): Promise<void> {
    if (creds.username.length === 0 || creds.username.includes(':')) throw invalidField('username', 'must be non-empty and must not contain ":"');
    if (creds.password.length === 0) throw invalidField('password', 'must not be empty');
    const doc = await readDoc(this.file);
    const auths = { ...(doc.auths ?? {}) };
    for (const k of Object.keys(auths)) if (normalizeHost(k) === normalizeHost(registry)) delete auths[k];
    auths[registryKey(registry)] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
    await this.write({ ...doc, auths });
  }

  /** Removes the credentials of a registry; false when there were none. */
  async remove(registry: string): Promise<boolean> {
    const doc = await readDoc(this.file);
    const auths = { ...(doc.auths ?? {}) };
    let found = false;
    for (const k of Object.keys(auths)) {
      if (normalizeHost(k) === normalizeHost(registry)) {
        delete auths[k];
        found = true;
      }
    }
    if (found) await this.write({ ...doc, auths });
    return found;
  }

  private async write(doc: ConfigDoc): Promise<void> {
    await fsp.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file, `${JSON.stringify(doc, null, '\t')}\n`, 0o600);
  }
}
