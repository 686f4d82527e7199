import { UnimplementedError, exitCodeFor } from '@podkit/errdefs';
import { DEFAULT_CONFIG, RUNTIME_NAME } from '../index';

/** podkitd's entry point. Until the CRI server lands it answers --version and refuses to serve. */
export function main(argv: string[]): void {
  if (argv.includes('--version') || argv.includes('-v')) {
    process.stdout.write(`${RUNTIME_NAME}d 0.1.0\n`);
    return;
  }
  const err = new UnimplementedError(`podkitd: the CRI server is not built yet (would listen on ${DEFAULT_CONFIG.socketPath})`);
  process.stderr.write(`${err.message}\n`);
  process.exitCode = exitCodeFor(err);
}
