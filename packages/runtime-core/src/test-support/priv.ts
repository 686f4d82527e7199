/** Test helper for privileged specs (`*.priv.spec.ts`): whether they can run here, and polling with a deadline. */

export const isRoot = process.getuid?.() === 0;

/**
 * `describe` when this process is root and `unmet` (when given) finds nothing missing; otherwise
 * `describe.skip`, after a warning naming the spec and why it is skipped:
 * "<spec>: skipped, needs root (<needs>)" or "<spec>: skipped, <what unmet returned>".
 */
export function describeAsRoot(spec: string, needs: string, unmet?: () => string | undefined): jest.Describe {
  if (!isRoot) {
    console.warn(`${spec}: skipped, needs root (${needs})`);
    return describe.skip;
  }
  const missing = unmet?.();
  if (missing !== undefined) {
    console.warn(`${spec}: skipped, ${missing}`);
    return describe.skip;
  }
  return describe;
}

/**
 * Polls `cond` every `everyMs` until it holds (never a fixed sleep); after `timeoutMs` throws
 * `timed out waiting for <what>` (with `what` called then, so it can show what was seen so far).
 */
export async function waitUntil(cond: () => boolean, what: string | (() => string), { timeoutMs = 10_000, everyMs = 10 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
