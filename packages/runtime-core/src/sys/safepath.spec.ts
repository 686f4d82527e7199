import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isNotFound } from '@podkit/errdefs';
import { resolveInRoot } from './safepath';

describe.each(['auto', 'walk'] as const)('resolveInRoot (%s resolver)', (resolver) => {
  let root: string;
  let outside: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-safepath-'));
    outside = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-outside-'));
    fs.mkdirSync(path.join(root, 'etc'));
    fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'inside');
    fs.writeFileSync(path.join(outside, 'passwd'), 'outside');
    fs.symlinkSync(outside, path.join(root, 'abs'));
    fs.symlinkSync('../../../../..' + outside, path.join(root, 'rel'));
    fs.symlinkSync('/etc', path.join(root, 'etclink'));
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it('resolves plain paths and symlinks that stay inside', async () => {
    expect(await resolveInRoot(root, '/etc/passwd', { resolver })).toBe(path.join(root, 'etc', 'passwd'));
    expect(await resolveInRoot(root, 'etclink/passwd', { resolver })).toBe(path.join(root, 'etc', 'passwd'));
    expect(await resolveInRoot(root, '/../../etc/passwd', { resolver })).toBe(path.join(root, 'etc', 'passwd'));
  });

  it('never leaves the root through absolute or relative symlinks', async () => {
    for (const p of ['/abs/passwd', '/rel/passwd']) {
      const err = await resolveInRoot(root, p, { resolver }).catch((e: unknown) => e);
      expect(isNotFound(err)).toBe(true);
    }
  });

  it('creates missing directories and files inside the root, following symlinks there', async () => {
    expect(await resolveInRoot(root, '/abs/made/here', { resolver, create: 'dir' })).toBe(path.join(root, outside, 'made', 'here'));
    expect(fs.existsSync(path.join(outside, 'made'))).toBe(false);
    expect(await resolveInRoot(root, '/new/file', { resolver, create: 'file' })).toBe(path.join(root, 'new', 'file'));
    expect(fs.statSync(path.join(root, 'new', 'file')).isFile()).toBe(true);
  });
});
