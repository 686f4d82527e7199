/**
 * The one module that loads podkit's native addon (`podkit_native.node`) and finds the helper
 * executables (`podkit-init`, `podkit-pause`, ...). Everything else asks this module.
 *
 * Search order: `$PODKIT_NATIVE_DIR`, then `<package>/native-bin` (where `native:build` copies the
 * artefacts; the same relative path from `src/sys` and `dist/sys`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FailedPreconditionError } from '@podkit/errdefs';

/** ABI version this TypeScript expects; must equal `kAddonAbi` in native/src/common/version.h. */
export const EXPECTED_ADDON_ABI = 1;

export interface NativeInfo {
  abi: number;
  protocol: number;
  napi: number;
  kernel?: string;
}

/** The functions every build of the addon has; areas of `sys` declare their own extra functions. */
export interface CoreBinding {
  modules: string[];
  info(): NativeInfo;
  add(a: number, b: number): number;
  getpid(): number;
}

let cached: CoreBinding | undefined;

/** Folders searched for native artefacts, in order. */
export function nativeDirs(): string[] {
  const dirs: string[] = [];
  if (process.env['PODKIT_NATIVE_DIR']) dirs.push(path.resolve(process.env['PODKIT_NATIVE_DIR']));
  dirs.push(path.resolve(__dirname, '..', '..', 'native-bin'));
  return dirs;
}

function missing(what: string, looked: string[]): FailedPreconditionError {
  return new FailedPreconditionError(
    `podkit native ${what} not found (looked in ${looked.join(', ')}): build it with \`npm run build\` ` +
      'or `npx nx run native:build` from the repository root (needs cmake, make and g++), ' +
      'or point PODKIT_NATIVE_DIR at a folder that holds it',
    { details: { field: 'PODKIT_NATIVE_DIR', looked } },
  );
}

/** Loads the addon once per process. Throws FailedPreconditionError with the fix when it is missing. */
export function loadNative<T extends object = CoreBinding>(): CoreBinding & T {
  if (cached) return cached as CoreBinding & T;
  const dirs = nativeDirs();
  const file = dirs.map((d) => path.join(d, 'podkit_native.node')).find((f) => fs.existsSync(f));
  if (!file) throw missing('addon podkit_native.node', dirs);
  const mod = { exports: {} as CoreBinding };
  try {
    process.dlopen(mod, file);
  } catch (err) {
    throw new FailedPreconditionError(`podkit native addon ${file} failed to load: ${(err as Error).message}; rebuild it with \`npm run build\``, {
      cause: err,
    });
  }
  const info = mod.exports.info();
  if (info.abi !== EXPECTED_ADDON_ABI) {
    throw new FailedPreconditionError(
      `podkit native addon ${file} has ABI ${info.abi}, this code expects ${EXPECTED_ADDON_ABI}: rebuild it with \`npm run build\``,
    );
  }
  cached = mod.exports;
  return cached as CoreBinding & T;
}

/** Absolute path of a helper executable (`podkit-init`, `podkit-pause`...). */
export function helperPath(name: string): string {
  const dirs = nativeDirs();
  const file = dirs.map((d) => path.join(d, name)).find((f) => fs.existsSync(f));
  if (!file) throw missing(`helper ${name}`, dirs);
  return file;
}

/** Facts about the loaded addon (ABI, protocol version, N-API version, kernel release). */
export function nativeInfo(): NativeInfo {
  return loadNative().info();
}

/** A trivial native function that proves the addon builds and loads. */
export function nativeAdd(a: number, b: number): number {
  return loadNative().add(a, b);
}

/** For tests: forget the loaded binding so the next call searches again (the .node stays mapped). */
export function resetNativeCacheForTests(): void {
  cached = undefined;
}
