/**
 * @podkit/runtime-core — podkit's OCI runtime library. The system layer is the `./sys` subpath.
 */
export * as sys from './sys';
