import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isFailedPrecondition } from '@podkit/errdefs';
import { helperPath, loadNative, nativeAdd, nativeDirs, nativeInfo, EXPECTED_ADDON_ABI } from './native';
import { resetNativeCacheForTests } from './native';

describe('native loader', () => {
  const saved = process.env['PODKIT_NATIVE_DIR'];
  afterEach(() => {
    if (saved === undefined) delete process.env['PODKIT_NATIVE_DIR'];
    else process.env['PODKIT_NATIVE_DIR'] = saved;
    resetNativeCacheForTests();
  });

  it('loads the built addon and calls a trivial native function', () => {
    expect(nativeAdd(2, 40)).toBe(42);
    const info = nativeInfo();
    expect(info.abi).toBe(EXPECTED_ADDON_ABI);
    expect(info.napi).toBe(8);
    expect(loadNative().getpid()).toBe(process.pid);
    expect(loadNative().modules).toContain('core');
  });

  it('rejects bad arguments with a TypeError from native code', () => {
    expect(() => (loadNative().add as unknown as (a: unknown, b: unknown) => number)('1', 2)).toThrow(/both arguments must be numbers/);
  });

  it('finds helper executables', () => {
    expect(fs.statSync(helperPath('podkit-pause')).mode & 0o111).not.toBe(0);
  });

  it('gives an actionable error when the addon is missing', () => {
    resetNativeCacheForTests();
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-empty-'));
    process.env['PODKIT_NATIVE_DIR'] = empty;
    // The package's own native-bin still exists, so point the search at an empty folder only.
    const dirs = nativeDirs();
    expect(dirs[0]).toBe(empty);
    let err: unknown;
    try {
      helperPath('podkit-does-not-exist');
    } catch (e) {
      err = e;
    }
    expect(isFailedPrecondition(err)).toBe(true);
    expect((err as Error).message).toMatch(/npm run build/);
    expect((err as Error).message).toContain(empty);
    fs.rmSync(empty, { recursive: true });
  });
});
