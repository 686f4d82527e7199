/**
 * The result cache, kept as libcni keeps it: one file per attachment, `<dir>/results/<network>-<containerId>-<ifName>`,
 * holding a versioned envelope (`kind: "cniCacheV1"`) with the keys, the configuration list (base64, as Go
 * marshals bytes), the CNI_ARGS, the capability arguments and the result. Files are 0600 in a 0700 folder and
 * written atomically. The keys are always read from inside the JSON, never parsed back out of the file name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AlreadyExistsError, toPodkitError } from '@podkit/errdefs';
import type { CachedAttachment } from './types';

export const CACHE_KIND = 'cniCacheV1';

interface Envelope {
  kind: string;
  containerId: string;
  config: string;
  ifName: string;
  networkName: string;
  netns?: string;
  cniArgs?: Array<[string, string]>;
  capabilityArgs?: Record<string, unknown>;
  result?: Record<string, unknown>;
}

export interface CacheEntry {
  containerId: string;
  networkName: string;
  ifName: string;
  netns: string;
  cniArgs?: Array<[string, string]>;
  capabilityArgs?: Record<string, unknown>;
  config: Buffer;
  result: Record<string, unknown>;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPairs(v: unknown): v is Array<[string, string]> {
  return Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string');
}

export class ResultCache {
  readonly resultsDir: string;

  constructor(readonly cacheDir: string) {
    this.resultsDir = path.join(cacheDir, 'results');
  }

  fileFor(networkName: string, containerId: string, ifName: string): string {
    return path.join(this.resultsDir, `${networkName}-${containerId}-${ifName}`);
  }

  /** Writes an entry atomically (temp file, fsync, rename, fsync of the folder). */
  write(entry: CacheEntry): void {
    const file = this.fileFor(entry.networkName, entry.containerId, entry.ifName);
    const existing = this.readFile(file);
    if (existing && (existing.networkName !== entry.networkName || existing.containerId !== entry.containerId || existing.ifName !== entry.ifName)) {
      throw new AlreadyExistsError(
        `result cache ${file} already holds network "${existing.networkName}" container "${existing.containerId}" interface "${existing.ifName}"`,
      );
    }
    const env: Envelope = {
      kind: CACHE_KIND,
      containerId: entry.containerId,
      config: entry.config.toString('base64'),
      ifName: entry.ifName,
      networkName: entry.networkName,
      ...(entry.netns ? { netns: entry.netns } : {}),
      ...(entry.cniArgs && entry.cniArgs.length > 0 ? { cniArgs: entry.cniArgs } : {}),
      ...(entry.capabilityArgs && Object.keys(entry.capabilityArgs).length > 0 ? { capabilityArgs: entry.capabilityArgs } : {}),
      result: entry.result,
    };
    try {
      fs.mkdirSync(this.resultsDir, { recursive: true, mode: 0o700 });
      const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
      const fd = fs.openSync(tmp, 'wx', 0o600);
      try {
        fs.writeSync(fd, JSON.stringify(env));
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
      const dfd = fs.openSync(this.resultsDir, 'r');
      try {
        fs.fsyncSync(dfd);
      } finally {
        fs.closeSync(dfd);
      }
    } catch (err) {
      throw toPodkitError(err, `write result cache ${file}`);
    }
  }

  /** The entry for the keys, or undefined when there is none (or the file holds other keys). */
  read(networkName: string, containerId: string, ifName: string): CachedAttachment | undefined {
    const e = this.readFile(this.fileFor(networkName, containerId, ifName));
    if (!e || e.networkName !== networkName || e.containerId !== containerId || e.ifName !== ifName) return undefined;
    return e;
  }

  remove(networkName: string, containerId: string, ifName: string): void {
    const file = this.fileFor(networkName, containerId, ifName);
    const e = this.readFile(file);
    if (e && (e.networkName !== networkName || e.containerId !== containerId || e.ifName !== ifName)) return;
    try {
      fs.rmSync(file, { force: true });
    } catch (err) {
      throw toPodkitError(err, `remove result cache ${file}`);
    }
  }

  /** Every valid entry, optionally only those of one container or one network; sorted by file name. */
  list(filter: { containerId?: string; networkName?: string } = {}): CachedAttachment[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.resultsDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw toPodkitError(err, `read result cache ${this.resultsDir}`);
    }
    const out: CachedAttachment[] = [];
    for (const n of names.sort()) {
      if (n.includes('.tmp-')) continue;
      const e = this.readFile(path.join(this.resultsDir, n));
      if (!e) continue;
      if (filter.containerId !== undefined && e.containerId !== filter.containerId) continue;
      if (filter.networkName !== undefined && e.networkName !== filter.networkName) continue;
      out.push(e);
    }
    return out;
  }

  /** Parses one file; undefined when missing, unreadable, not JSON or not a cniCacheV1 envelope with keys. */
  private readFile(file: string): CachedAttachment | undefined {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (!isObj(doc) || doc['kind'] !== CACHE_KIND) return undefined;
    const { containerId, networkName, ifName, config } = doc;
    if (typeof containerId !== 'string' || typeof networkName !== 'string' || typeof ifName !== 'string') return undefined;
    if (!containerId || !networkName || !ifName) return undefined;
    return {
      containerId,
      networkName,
      ifName,
      netns: typeof doc['netns'] === 'string' ? doc['netns'] : '',
      cniArgs: isPairs(doc['cniArgs']) ? doc['cniArgs'] : [],
      capabilityArgs: isObj(doc['capabilityArgs']) ? doc['capabilityArgs'] : {},
      config: typeof config === 'string' ? Buffer.from(config, 'base64') : Buffer.alloc(0),
      result: isObj(doc['result']) ? doc['result'] : undefined,
      file,
    };
  }
}
