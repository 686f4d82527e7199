import { UnimplementedError, exitCodeFor, toPodkitError } from '@podkit/errdefs';
import { resolveEndpoint } from '../index';

/** podctl's entry point. Until the CRI client lands it resolves its endpoint and says what it would do. */
export function main(argv: string[]): void {
  try {
    if (argv.includes('--version')) {
      process.stdout.write('podctl 0.1.0\n');
      return;
    }
    const i = argv.indexOf('--runtime-endpoint');
    const endpoint = resolveEndpoint(i >= 0 ? argv[i + 1] : undefined);
    throw new UnimplementedError(`podctl: CRI commands are not built yet (endpoint ${endpoint.target})`);
  } catch (e) {
    const err = toPodkitError(e);
    process.stderr.write(`${err.message}\n`);
    process.exitCode = exitCodeFor(err);
  }
}
