/**
 * What every podimg command shares: the global options, the store opener and output helpers.
 * Each command lives in its own file under ./commands and is listed in ./commands/index.ts.
 */
import type { Argv } from 'yargs';
import type { RegistryAccess } from '../hosts/access';
import type { ImageStore } from '../images/store';
import type { ImageRecord } from '../images/types';

export const DEFAULT_ROOT = '/var/lib/podkit/image-store';

export interface GlobalArgs {
  root: string;
  'insecure-registry': string[];
  /** Credentials file (docker config.json format); default $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
  'auth-file'?: string;
  /** Registry hosts config (mirrors, TLS); default /etc/podkit/registries.json if present. */
  'hosts-config'?: string;
  output: 'json' | 'table';
}

/** A podimg command: adds itself to the parser. Handlers require() heavy modules when they run. */
export interface PodimgCommand {
  register(y: Argv<GlobalArgs>): Argv<GlobalArgs>;
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('   ')).join('\n') + '\n';
}

/** Registry access from the global options: endpoints and TLS (`--hosts-config`), credentials (`--auth-file`). */
export async function withAccess<T>(args: GlobalArgs, fn: (access: RegistryAccess) => Promise<T>): Promise<T> {
  const { RegistryAccess } = require('../hosts/access') as typeof import('../hosts/access');
  const access = await RegistryAccess.open({
    insecureRegistries: args['insecure-registry'] ?? [],
    ...(args['auth-file'] ? { authFile: args['auth-file'] } : {}),
    ...(args['hosts-config'] ? { hostsConfig: args['hosts-config'] } : {}),
  });
  try {
    return await fn(access);
  } finally {
    await access.close();
  }
}

/** The image store, its registry client using the access of the global options (credentials, mirrors, TLS). */
export async function withStoreAccess<T>(args: GlobalArgs, fn: (store: ImageStore, access: RegistryAccess) => Promise<T>): Promise<T> {
  return withAccess(args, async (access) => {
    const { ImageStore } = require('../images/store') as typeof import('../images/store');
    const store = await ImageStore.open(args.root, { insecureRegistries: args['insecure-registry'] ?? [], access });
    try {
      return await fn(store, access);
    } finally {
      await store.close();
    }
  });
}

export async function withStore<T>(args: GlobalArgs, fn: (store: ImageStore) => Promise<T>): Promise<T> {
  return withStoreAccess(args, (store) => fn(store));
}

export function size(r: ImageRecord): number {
  return r.config.size + r.manifest.size + r.layers.reduce((n, l) => n + l.size, 0);
}

export function out(s: string): void {
  process.stdout.write(s);
}
