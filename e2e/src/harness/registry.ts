/**
 * The e2e harness's registry: Debian's `docker-registry` on a free 127.0.0.1 port with its own temporary
 * storage. The implementation lives in tools/ (the benchmarks start the same registry).
 */
export { TestRegistry, registryAvailable, REGISTRY_BIN } from '@podkit/tools/images/registry';
