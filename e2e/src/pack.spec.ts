/**
 * Every package is publishable: `npm pack --dry-run` succeeds, and the tarball holds the README, the
 * package.json and every file its `exports` map, `main`, `types` and `bin` point at.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const packages = fs.readdirSync(path.join(root, 'packages')).filter((p) => fs.existsSync(path.join(root, 'packages', p, 'package.json')));

function targets(exportsField: unknown): string[] {
  if (typeof exportsField === 'string') return [exportsField];
  if (exportsField && typeof exportsField === 'object') {
    return Object.entries(exportsField as Record<string, unknown>)
      .filter(([cond]) => cond !== '@podkit/source') // sources are for the workspace only
      .flatMap(([, v]) => targets(v));
  }
  return [];
}

describe('npm pack', () => {
  it('finds the eight packages of DESIGN.md', () => {
    expect(packages.sort()).toEqual(['cni-runner', 'cri-api', 'cri-server', 'ctl', 'errdefs', 'image-store', 'oci-spec', 'runtime-core']);
  });

  it.each(packages)('@podkit/%s packs with everything its entry points name', (p) => {
    const dir = path.join(root, 'packages', p);
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    expect(pkg.name).toBe(`@podkit/${p}`);
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+/);
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8' });
    const [info] = JSON.parse(out) as Array<{ files: Array<{ path: string }> }>;
    const files = new Set(info!.files.map((f) => f.path));
    expect(files.has('README.md')).toBe(true);
    expect(files.has('package.json')).toBe(true);
    const wanted = [...targets(pkg.exports), pkg.main, pkg.types, ...Object.values((pkg.bin ?? {}) as Record<string, string>)]
      .filter((f): f is string => typeof f === 'string' && f !== './package.json')
      .map((f) => f.replace(/^\.\//, ''));
    for (const f of wanted) expect([f, files.has(f)]).toEqual([f, true]);
    expect([...files].some((f) => f.includes('.spec.'))).toBe(false);
  });
});
