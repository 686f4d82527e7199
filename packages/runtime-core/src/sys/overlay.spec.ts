import { isInvalidArgument } from '@podkit/errdefs';
import { overlayNeedsFsconfig, overlayParams } from './overlay';

describe('overlay fsconfig parameters', () => {
  it('splits lowerdir into one lowerdir+ per layer, keeps the others, reads ro', () => {
    expect(overlayParams(['ro', 'index=off', 'lowerdir=/a:/b', 'userxattr'])).toEqual({
      readonly: true,
      params: [
        ['index', 'off'],
        ['lowerdir+', '/a'],
        ['lowerdir+', '/b'],
        ['userxattr', null],
      ],
    });
  });
  it('rejects relative or empty lower dirs with the option index', () => {
    expect(() => overlayParams(['lowerdir=a'])).toThrow(/^options\/0: lower dir "a" must be an absolute path/);
    let err: unknown;
    try {
      overlayParams(['x', 'lowerdir=']);
    } catch (e) {
      err = e;
    }
    expect(isInvalidArgument(err)).toBe(true);
    expect((err as Error).message).toMatch(/^options\/1:/);
  });
  it('knows when the option string would not fit in a page', () => {
    const lowers = Array.from({ length: 130 }, (_, i) => `/var/lib/podkit/snapshots/snapshots/${1000 + i}/fs`).join(':');
    expect(overlayNeedsFsconfig({ type: 'overlay', source: 'overlay', options: [`lowerdir=${lowers}`] })).toBe(true);
    expect(overlayNeedsFsconfig({ type: 'overlay', source: 'overlay', options: ['lowerdir=/a:/b'] })).toBe(false);
    expect(overlayNeedsFsconfig({ type: 'bind', source: '/x', options: [`lowerdir=${lowers}`] })).toBe(false);
  });
});
