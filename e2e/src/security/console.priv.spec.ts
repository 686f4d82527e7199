/**
 * runc CVE-2025-52565 (GHSA-qw9x-cqr3-wc7r): for a terminal container runc bind-mounts the pty slave
 * /dev/pts/N onto /dev/console; when /dev/console in the rootfs is a symlink (or swapped for one),
 * the bind lands on its target — /proc/sys/kernel/core_pattern in the exploit — and the container
 * gets a writable file where a read-only or masked one should be.
 *
 * podkit-init makes no /dev/console mount at all (the pty slave only becomes the process's stdio and
 * controlling terminal), so there is no bind to redirect. Shown here with an image whose /dev/console
 * is a symlink to a canary file: after a terminal container ran, the canary is untouched and no
 * mount sits on it or on /dev/console. The console socket is a plain listener of the test: the pty
 * master is sent to it and never read (the container writes its findings into a file).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Spec } from '@podkit/oci-spec';
import { ready, SecEnv } from './harness';

const maybe = ready ? it : it.skip;
if (!ready) console.warn('security e2e: skipped (needs root and /bin/busybox)');

describe('CVE-2025-52565 class: /dev/console a symlink for a terminal container', () => {
  let env: SecEnv;
  let server: net.Server;
  let socket: string;
  const conns: net.Socket[] = [];

  beforeAll(async () => {
    if (!ready) return;
    env = new SecEnv('console');
    socket = path.join(env.work, 'console.sock');
    server = net.createServer((c) => {
      conns.push(c);
      c.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(socket, r));
  });
  afterAll(async () => {
    if (!ready) return;
    for (const c of conns) c.destroy();
    await new Promise((r) => server.close(r));
    await env.cleanup();
  });

  const probe = [
    'exec > /tmp/result 2>&1',
    'stat -c "%F" /tmp/canary',
    'grep -c -E " /(tmp/canary|dev/console) " /proc/self/mountinfo',
    'cat /tmp/canary',
    'readlink /proc/self/fd/0',
  ].join('; ');

  for (const [name, mutate, image] of [
    [
      'an image without its own /dev',
      (s: Spec) => {
        s.mounts = (s.mounts ?? []).filter((m) => !m.destination.startsWith('/dev') || m.destination === '/dev/pts');
        s.linux = { ...s.linux, devices: [{ path: '/dev/null', type: 'c', major: 1, minor: 3 }] };
      },
      (rootfs: string) => fs.symlinkSync('pts/ptmx', path.join(rootfs, 'dev/ptmx')),
    ],
    ['the default /dev tmpfs over the image /dev', () => undefined, () => undefined],
  ] as const) {
    maybe(`${name}: the canary behind /dev/console is untouched and nothing is mounted on it`, async () => {
      const bundle = env.bundle(`console-${name.length}`, ['sh', '-c', probe], (s, rootfs) => {
        s.process = { ...s.process, terminal: true } as Spec['process'];
        mutate(s);
        image(rootfs);
        fs.writeFileSync(path.join(rootfs, 'tmp/canary'), 'canary\n');
        fs.symlinkSync('/tmp/canary', path.join(rootfs, 'dev/console'));
      });
      const o = await env.run(bundle, socket);
      expect(o.error).toBeUndefined();
      const result = fs.readFileSync(path.join(bundle, 'rootfs/tmp/result'), 'utf8').split('\n');
      // Still a regular file, nothing mounted on it or on /dev/console, content unchanged.
      expect(result.slice(0, 3)).toEqual(['regular file', '0', 'canary']);
      expect(fs.readFileSync(path.join(bundle, 'rootfs/tmp/canary'), 'utf8')).toBe('canary\n');
      // The process's stdin is the pty (the kernel may show the slave opened by TIOCGPTPEER as deleted).
      expect(result[result.length - 2]).toMatch(/^\/dev\/pts\/\d+/);
    });
  }
});
