/** Runs podimg's main() in-process and captures what it writes and its exit code. */
import { main } from '../cli/podimg';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runPodimg(argv: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    stdout += String(s);
    return true;
  });
  const e = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
  const saved = process.exitCode;
  process.exitCode = 0;
  try {
    await main(argv);
    return { code: Number(process.exitCode ?? 0), stdout, stderr };
  } finally {
    process.exitCode = saved;
    o.mockRestore();
    e.mockRestore();
  }
}
