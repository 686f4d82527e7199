/**
 * The dependency rule of DESIGN.md, proven through the real lint configuration: code that breaks a
 * layer boundary fails ESLint with the module-boundary error, code that keeps to it passes.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { ESLint, Linter } from 'eslint';

const root = path.resolve(__dirname, '..', '..', '..');

async function lint(project: string, code: string): Promise<Linter.LintMessage[]> {
  // Jest's module sandbox cannot `import()` the flat config file, so hand ESLint the same config object.
  const config = require(path.join(root, 'eslint.config.js')) as Linter.Config[];
  const eslint = new ESLint({ cwd: root, overrideConfigFile: true, overrideConfig: config });
  const filePath = path.join(root, 'packages', project, 'src', '__boundary_probe__.ts');
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.filter((m) => m.severity === 2);
}

const BOUNDARY = /module boundary|can only depend on libs tagged/;

describe('module boundaries (nx enforce-module-boundaries + the engine/sys rule)', () => {
  beforeAll(() => {
    // The nx rule reads the cached project graph; make sure it exists (nx run-many makes it too).
    execFileSync(path.join(root, 'node_modules', '.bin', 'nx'), ['show', 'projects'], {
      cwd: root,
      env: { ...process.env, NX_DAEMON: 'false' },
      stdio: 'ignore',
    });
  });

  it('image-store importing runtime-core main entry fails', async () => {
    const msgs = await lint('image-store', "import { sys } from '@podkit/runtime-core';\nexport const x = sys;\n");
    expect(msgs.map((m) => m.message).join('\n')).toMatch(/module boundary: an engine may import only @podkit\/runtime-core\/sys/);
  });

  it('image-store importing a deep path of runtime-core (not /sys) fails', async () => {
    const msgs = await lint('image-store', "import * as r from '@podkit/runtime-core/dist/index';\nexport const x = r;\n");
    expect(msgs.some((m) => BOUNDARY.test(m.message))).toBe(true);
  });

  it('an engine importing another engine fails', async () => {
    const a = await lint('image-store', "import * as c from '@podkit/cni-runner';\nexport const x = c;\n");
    expect(a.find((m) => m.ruleId === '@nx/enforce-module-boundaries')?.message).toMatch(
      /tagged with "layer:engine" can only depend on libs tagged with "layer:base", "layer:core"/,
    );
    const b = await lint('cni-runner', "import * as i from '@podkit/image-store';\nexport const x = i;\n");
    expect(b.some((m) => m.ruleId === '@nx/enforce-module-boundaries')).toBe(true);
  });

  it('ctl importing runtime-core fails (even its /sys subpath)', async () => {
    for (const spec of ['@podkit/runtime-core', '@podkit/runtime-core/sys']) {
      const msgs = await lint('ctl', `import * as r from '${spec}';\nexport const x = r;\n`);
      expect(msgs.find((m) => m.ruleId === '@nx/enforce-module-boundaries')?.message).toMatch(
        /tagged with "layer:client" can only depend on libs tagged with "layer:base"/,
      );
    }
  });

  it('a base package importing a higher layer fails', async () => {
    const msgs = await lint('oci-spec', "import * as r from '@podkit/runtime-core/sys';\nexport const x = r;\n");
    expect(msgs.some((m) => m.ruleId === '@nx/enforce-module-boundaries')).toBe(true);
  });

  it('allowed imports pass: engines → runtime-core/sys and base, service → engines', async () => {
    expect(await lint('image-store', "import * as s from '@podkit/runtime-core/sys';\nimport * as e from '@podkit/errdefs';\nexport const x = [s, e];\n")).toEqual([]);
    expect(await lint('cni-runner', "import * as s from '@podkit/runtime-core/sys';\nexport const x = s;\n")).toEqual([]);
    expect(
      await lint('cri-server', "import * as i from '@podkit/image-store';\nimport * as r from '@podkit/runtime-core';\nexport const x = [i, r];\n"),
    ).toEqual([]);
    expect(await lint('ctl', "import * as c from '@podkit/cri-api';\nexport const x = c;\n")).toEqual([]);
  });
});
