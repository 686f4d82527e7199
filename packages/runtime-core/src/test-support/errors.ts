/** Test helper: the error an operation fails with, for assertions on its class and message. */

/** The error `fn` throws, or undefined when it returns. */
export function thrown(fn: () => unknown): Error | undefined {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  return undefined;
}

/** The error `p` rejects with; throws (failing the test) when it fulfils. */
export async function rejectionOf(p: Promise<unknown>, what = 'the operation'): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error(`expected ${what} to fail`);
}
