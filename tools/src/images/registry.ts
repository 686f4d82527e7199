/**
 * A real registry for e2e tests and benchmarks: Debian's `docker-registry` (distribution) on a free
 * 127.0.0.1 port, with its own storage, anonymous or with htpasswd auth. The one implementation lives in
 * @podkit/image-store/testing (packages may not import tools; image-store's own auth tests start it too).
 */
export { TestRegistry, registryAvailable, registryMissing, REGISTRY_BIN } from '@podkit/image-store/testing';
export type { TestRegistryOptions } from '@podkit/image-store/testing';
