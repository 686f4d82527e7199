/**
 * Options shared by the podimg commands that talk to registries with credentials (login, logout, push,
 * copy, import, export): where the credentials file and the hosts config are, and openers for a
 * RegistryAccess and an ImageStore that uses it.
 */
import type { Argv } from 'yargs';
import type { ImageStore } from '../images/store';
import type { RegistryAccess } from '../hosts/access';
import type { GlobalArgs } from './common';

export interface RegistryArgs {
  'auth-file'?: string;
  'hosts-config'?: string;
}

export function registryOptions<T>(y: Argv<T>): Argv<T & RegistryArgs> {
  return y
    .option('auth-file', { type: 'string', describe: 'credentials file (docker config.json format; default $DOCKER_CONFIG/config.json, else ~/.docker/config.json)' })
    .option('hosts-config', { type: 'string', describe: 'registry hosts config (mirrors, TLS; default /etc/podkit/registries.json if present)' }) as unknown as Argv<T & RegistryArgs>;
}

export async function withAccess<T>(a: GlobalArgs & RegistryArgs, fn: (access: RegistryAccess) => Promise<T>): Promise<T> {
  const { RegistryAccess } = require('../hosts/access') as typeof import('../hosts/access');
  const access = await RegistryAccess.open({
    insecureRegistries: a['insecure-registry'] ?? [],
    ...(a['auth-file'] ? { authFile: a['auth-file'] } : {}),
    ...(a['hosts-config'] ? { hostsConfig: a['hosts-config'] } : {}),
  });
  try {
    return await fn(access);
  } finally {
    await access.close();
  }
}

/** The image store, its registry client using `access` (credentials, mirrors, TLS). */
export async function withStoreAccess<T>(a: GlobalArgs & RegistryArgs, fn: (store: ImageStore, access: RegistryAccess) => Promise<T>): Promise<T> {
  return withAccess(a, async (access) => {
    const { ImageStore } = require('../images/store') as typeof import('../images/store');
    const store = await ImageStore.open(a.root, { insecureRegistries: a['insecure-registry'] ?? [], access });
    try {
      return await fn(store, access);
    } finally {
      await store.close();
    }
  });
}

/** Reads a password from stdin (the first line; for `--password-stdin`). */
export async function readPasswordStdin(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of stdin) parts.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(parts).toString('utf8').replace(/\r?\n$/, '').split(/\r?\n/)[0] ?? '';
}
