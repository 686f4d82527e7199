/** Helpers of the podimg commands that handle credentials (login). Registry access comes from ./common. */
/** Reads a password from stdin (the first line; for `--password-stdin`). */
export async function readPasswordStdin(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of stdin) parts.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(parts).toString('utf8').replace(/\r?\n$/, '').split(/\r?\n/)[0] ?? '';
}
