/**
 * How tests and benchmarks start `podimg` as a real process: the built CLI when the workspace is built
 * (`packages/image-store/dist`), otherwise straight from the TypeScript sources (Node's
 * `--conditions=@podkit/source` plus a small require hook that compiles .ts with @swc/core).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '..', '..', '..');

const HOOK = `'use strict';
const fs = require('node:fs');
const { transformSync } = require(${JSON.stringify(require.resolve('@swc/core', { paths: [REPO] }))});
require.extensions['.ts'] = function (module, filename) {
  const out = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename, sourceMaps: 'inline', module: { type: 'commonjs' },
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
  });
  module._compile(out.code, filename);
};
`;

function built(): boolean {
  return ['packages/image-store/dist/cli/podimg.js', 'packages/runtime-core/dist/sys/index.js', 'packages/oci-spec/dist/index.js', 'packages/errdefs/dist/index.js'].every((f) =>
    fs.existsSync(path.join(REPO, f)),
  );
}

let hookFile: string | undefined;

/** [executable, ...args] that run `podimg <argv>`. Set PODKIT_PODIMG_FROM_SOURCE=1 to force sources. */
export function podimgCommand(argv: string[]): [string, string[]] {
  if (process.env['PODKIT_PODIMG_FROM_SOURCE'] !== '1' && built()) {
    return [process.execPath, [path.join(REPO, 'packages/image-store/bin/podimg'), ...argv]];
  }
  if (!hookFile) {
    // Named by its content, so every process shares one file and none is left per run.
    const file = path.join(os.tmpdir(), `podkit-ts-hook-${crypto.createHash('sha256').update(HOOK).digest('hex').slice(0, 16)}.js`);
    if (!fs.existsSync(file)) {
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, HOOK);
      fs.renameSync(tmp, file);
    }
    hookFile = file;
  }
  const cli = path.join(REPO, 'packages/image-store/src/cli/podimg.ts');
  return [
    process.execPath,
    ['--conditions=@podkit/source', '-r', hookFile, '-e', `require(${JSON.stringify(cli)}).main(process.argv.slice(1))`, '--', ...argv],
  ];
}
