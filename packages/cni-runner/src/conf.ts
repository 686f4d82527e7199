/**
 * Network configurations: `.conflist` files (a list of plugins) and `.conf`/`.json` files (one plugin,
 * wrapped as a one-plugin list, as libcni's ConfListFromConf does), loaded from a folder in lexical
 * order. The first valid one is the default network. A bad file never stops the load: it is reported
 * with the reason.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalidDocument, invalidField, NotFoundError, toPodkitError, type FieldIssue } from '@podkit/errdefs';
import type { NetworkConfigList, PluginConf } from './types';
import { compareVersions, isSupportedVersion, SUPPORTED_VERSIONS } from './version';

export const DEFAULT_CONF_DIR = '/etc/cni/net.d';
export const CONF_EXTENSIONS = ['.conflist', '.conf', '.json'] as const;

/** Names of networks and container IDs (libcni: `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`). */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function validateNetworkName(field: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw invalidField(field, 'is required and must be a non-empty string');
  if (!NAME_RE.test(name)) throw invalidField(field, `"${name}" must start with a letter or digit and hold only letters, digits, "_", "." and "-"`);
  return name;
}

export function validateContainerId(field: string, id: unknown): string {
  if (typeof id !== 'string' || id.length === 0) throw invalidField(field, 'is required and must be a non-empty string');
  if (!NAME_RE.test(id)) throw invalidField(field, `"${id}" must start with a letter or digit and hold only letters, digits, "_", "." and "-"`);
  return id;
}

/** Interface names as the kernel accepts them (and libcni checks): 1-15 bytes, no "/", ":" or whitespace. */
export function validateIfName(field: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw invalidField(field, 'is required and must be a non-empty string');
  if (Buffer.byteLength(name) > 15) throw invalidField(field, `"${name}" is longer than 15 bytes`);
  if (name === '.' || name === '..') throw invalidField(field, `"${name}" is not a valid interface name`);
  if (/[/:\s]/.test(name)) throw invalidField(field, `"${name}" must not contain "/", ":" or whitespace`);
  return name;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asBool(v: unknown): boolean | undefined {
  if (v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true; // libcni accepts the string form too
  if (v === 'false') return false;
  return undefined;
}

function checkPlugin(p: unknown, at: string, issues: FieldIssue[]): p is PluginConf {
  if (!isObj(p)) {
    issues.push({ path: at, reason: 'must be an object' });
    return false;
  }
  const t = p['type'];
  if (typeof t !== 'string' || t.length === 0) issues.push({ path: `${at}/type`, reason: 'is required and must be a non-empty string' });
  else if (t.includes('/') || t === '.' || t === '..') issues.push({ path: `${at}/type`, reason: `"${t}" must be a plugin name, not a path` });
  const caps = p['capabilities'];
  if (caps !== undefined && (!isObj(caps) || Object.values(caps).some((c) => typeof c !== 'boolean'))) {
    issues.push({ path: `${at}/capabilities`, reason: 'must be an object of booleans' });
  }
  return true;
}

/** Picks the version to use: `cniVersions` (1.1.0) gives the newest one this runner supports. */
function pickVersion(o: Record<string, unknown>, issues: FieldIssue[]): string {
  const many = o['cniVersions'];
  if (many !== undefined) {
    if (!Array.isArray(many) || many.some((v) => typeof v !== 'string')) {
      issues.push({ path: '/cniVersions', reason: 'must be an array of strings' });
    } else {
      const ok = (many as string[]).filter(isSupportedVersion).sort(compareVersions);
      const newest = ok[ok.length - 1];
      if (newest !== undefined) return newest;
      if (o['cniVersion'] === undefined) issues.push({ path: '/cniVersions', reason: `holds no supported version (${SUPPORTED_VERSIONS.join(', ')})` });
    }
  }
  const v = o['cniVersion'];
  if (typeof v !== 'string') {
    issues.push({ path: '/cniVersion', reason: 'is required and must be a string' });
    return '';
  }
  if (!isSupportedVersion(v)) issues.push({ path: '/cniVersion', reason: `"${v}" is not supported (${SUPPORTED_VERSIONS.join(', ')})` });
  return v;
}

/** The bytes and the JSON object they hold, or an InvalidArgumentError naming `source`. */
function parseObject(bytes: Buffer | string, source: string): { buf: Buffer; doc: Record<string, unknown> } {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  let doc: unknown;
  try {
    doc = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw invalidDocument(`network configuration ${source}`, [{ path: '/', reason: `is not valid JSON: ${(err as Error).message}` }]);
  }
  if (!isObj(doc)) throw invalidDocument(`network configuration ${source}`, [{ path: '/', reason: 'must be a JSON object' }]);
  return { buf, doc };
}

/** Parses a network configuration list document. */
export function parseConfList(bytes: Buffer | string, source = '<inline>'): NetworkConfigList {
  const { buf, doc } = parseObject(bytes, source);
  const issues: FieldIssue[] = [];
  const name = doc['name'];
  if (typeof name !== 'string' || name.length === 0) issues.push({ path: '/name', reason: 'is required and must be a non-empty string' });
  else if (!NAME_RE.test(name)) issues.push({ path: '/name', reason: `"${name}" must hold only letters, digits, "_", "." and "-"` });
  const cniVersion = pickVersion(doc, issues);
  const disableCheck = asBool(doc['disableCheck']);
  if (disableCheck === undefined) issues.push({ path: '/disableCheck', reason: 'must be a boolean' });
  const disableGC = asBool(doc['disableGC']);
  if (disableGC === undefined) issues.push({ path: '/disableGC', reason: 'must be a boolean' });
  const plugins = doc['plugins'];
  if (!Array.isArray(plugins) || plugins.length === 0) issues.push({ path: '/plugins', reason: 'is required and must be a non-empty array' });
  else plugins.forEach((p, i) => checkPlugin(p, `/plugins/${i}`, issues));
  if (issues.length > 0) throw invalidDocument(`network configuration ${source}`, issues);
  return {
    name: name as string,
    cniVersion,
    disableCheck: disableCheck === true,
    disableGC: disableGC === true,
    plugins: plugins as PluginConf[],
    bytes: buf,
    source,
  };
}

/** Parses a single-plugin configuration and wraps it as a list (libcni's ConfListFromConf). */
export function parseConf(bytes: Buffer | string, source = '<inline>'): NetworkConfigList {
  const { buf, doc } = parseObject(bytes, source);
  // A list saved under .conf/.json is accepted as a list.
  if (doc['plugins'] !== undefined && doc['type'] === undefined) return parseConfList(buf, source);
  const list: Record<string, unknown> = { name: doc['name'], plugins: [doc] };
  if (doc['cniVersion'] !== undefined) list['cniVersion'] = doc['cniVersion'];
  if (doc['cniVersions'] !== undefined) list['cniVersions'] = doc['cniVersions'];
  const wrapped = parseConfList(Buffer.from(JSON.stringify(list)), source);
  return wrapped;
}

/** Parses a file by its extension. */
export function parseConfFile(file: string, bytes: Buffer): NetworkConfigList {
  return file.endsWith('.conflist') ? parseConfList(bytes, file) : parseConf(bytes, file);
}

export interface SkippedConf {
  file: string;
  reason: string;
}

export interface LoadedConfs {
  /** Valid networks in lexical order of their files; the first is the default network. */
  networks: NetworkConfigList[];
  /** Files that were not loaded, with the reason. */
  skipped: SkippedConf[];
}

/** Loads every configuration of a folder; a missing folder gives no networks, not an error. */
export function loadConfDir(dir: string = DEFAULT_CONF_DIR): LoadedConfs {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { networks: [], skipped: [] };
    throw toPodkitError(err, `read network configuration folder ${dir}`);
  }
  const out: LoadedConfs = { networks: [], skipped: [] };
  const seen = new Map<string, string>();
  for (const name of names.filter((n) => CONF_EXTENSIONS.some((e) => n.endsWith(e))).sort()) {
    const file = path.join(dir, name);
    try {
      const st = fs.statSync(file);
      if (!st.isFile()) throw new Error('not a regular file');
      const list = parseConfFile(file, fs.readFileSync(file));
      const first = seen.get(list.name);
      if (first !== undefined) {
        out.skipped.push({ file, reason: `network "${list.name}" is already defined by ${first}` });
        continue;
      }
      seen.set(list.name, file);
      out.networks.push(list);
    } catch (err) {
      out.skipped.push({ file, reason: (err as Error).message });
    }
  }
  return out;
}

/** The configuration named `name` (or the default one when `name` is undefined). NotFound otherwise. */
export function findNetwork(loaded: LoadedConfs, name: string | undefined, dir: string): NetworkConfigList {
  const list = name === undefined ? loaded.networks[0] : loaded.networks.find((n) => n.name === name);
  if (list) return list;
  const why = loaded.skipped.length > 0 ? `; skipped: ${loaded.skipped.map((s) => `${path.basename(s.file)} (${s.reason})`).join('; ')}` : '';
  throw new NotFoundError(name === undefined ? `no network configuration in ${dir}${why}` : `network "${name}" not found in ${dir}${why}`, {
    details: { field: 'network' },
  });
}
