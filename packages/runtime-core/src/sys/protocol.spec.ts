/** The plan protocol with a real podkit-init: framing, versioning and typed error reports (no root needed). */
import { PLAN_PROTOCOL_VERSION } from '../plan/types';
import { nativeInfo } from './native';
import { processBinding, spawnInit, waitPid } from './process';

async function exchange(message: object): Promise<Record<string, unknown> | null> {
  const { pid, channel } = await spawnInit();
  try {
    await channel.send(message);
    return (await channel.recv()).message;
  } finally {
    channel.close();
    await waitPid(pid);
  }
}

describe('plan protocol', () => {
  it('has the same version in TypeScript, the addon and the helper', () => {
    expect(nativeInfo().protocol).toBe(PLAN_PROTOCOL_VERSION);
  });

  it('rejects another protocol version with a typed error', async () => {
    expect(await exchange({ type: 'plan', version: PLAN_PROTOCOL_VERSION + 1, plan: {} })).toEqual({
      type: 'error',
      phase: 'plan',
      syscall: 'plan',
      errno: 'EPROTO',
      message: `protocol version ${PLAN_PROTOCOL_VERSION + 1} not supported (this podkit-init speaks ${PLAN_PROTOCOL_VERSION})`,
    });
  });

  it('rejects a message of the wrong type', async () => {
    expect(await exchange({ type: 'continue' })).toMatchObject({ type: 'error', errno: 'EPROTO', message: 'expected a "plan" message, got "continue"' });
  });

  it('carries messages larger than one datagram and reports the failing step', async () => {
    const env = Array.from({ length: 2000 }, (_, i) => `VAR_${i}=${'x'.repeat(100)}`);
    const reply = await exchange({
      type: 'plan',
      version: PLAN_PROTOCOL_VERSION,
      plan: { mode: 'create', clone: [], join: [{ type: 'network', path: '/nonexistent/ns/net' }], process: { args: ['true'], env } },
    });
    expect(reply).toEqual({ type: 'error', phase: 'namespaces', syscall: 'open', errno: 'ENOENT', message: 'namespace network at /nonexistent/ns/net' });
  });

  it('sends a one-datagram message at once on this thread, a larger one through the pool', async () => {
    const binding = processBinding();
    const trySend = jest.spyOn(binding, 'channelTrySend');
    const send = jest.spyOn(binding, 'channelSend');
    try {
      expect(await exchange({ type: 'continue' })).toMatchObject({ type: 'error', errno: 'EPROTO' });
      expect(trySend.mock.results.map((r) => r.value)).toEqual([true]);
      expect(send).not.toHaveBeenCalled();
      expect(await exchange({ type: 'continue', pad: 'x'.repeat(40_000) })).toMatchObject({ type: 'error', errno: 'EPROTO' });
      expect(trySend.mock.results.map((r) => r.value)).toEqual([true, false]);
      expect(send).toHaveBeenCalledTimes(1);
    } finally {
      trySend.mockRestore();
      send.mockRestore();
    }
  });

  it('escapes strings both ways (quotes, control characters, unicode)', async () => {
    const odd = 'a"b\\c\n\t\u0001é€😀';
    const reply = await exchange({ type: 'plan', version: PLAN_PROTOCOL_VERSION, plan: { join: [{ type: 'ipc', path: `/nonexistent/${odd}` }] } });
    expect(reply?.['message']).toBe(`namespace ipc at /nonexistent/${odd}`);
  });
});
