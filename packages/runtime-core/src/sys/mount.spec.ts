import { isInvalidArgument } from '@podkit/errdefs';
import { MS, parseMountOptions, propagationFlags } from './mount';

describe('parseMountOptions', () => {
  it('turns flag names into MS_* flags, later options winning', () => {
    expect(parseMountOptions(['nosuid', 'noexec', 'nodev', 'ro']).flags).toBe(MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY);
    expect(parseMountOptions(['ro', 'rw']).flags).toBe(0);
    expect(parseMountOptions(['rbind']).flags).toBe(MS.BIND | MS.REC);
    expect(parseMountOptions(['defaults']).flags).toBe(0);
  });

  it('keeps propagation changes apart, in order', () => {
    expect(parseMountOptions(['rbind', 'rprivate', 'shared']).propagation).toEqual([MS.PRIVATE | MS.REC, MS.SHARED]);
  });

  it('passes filesystem options through as data', () => {
    expect(parseMountOptions(['nosuid', 'mode=755', 'size=65536k', 'newinstance'])).toEqual({ flags: MS.NOSUID, propagation: [], data: 'mode=755,size=65536k,newinstance' });
  });

  it('rejects options podkit cannot honour, naming the entry', () => {
    let err: unknown;
    try {
      parseMountOptions(['ro', 'idmap'], '/mounts/3/options');
    } catch (e) {
      err = e;
    }
    expect(isInvalidArgument(err)).toBe(true);
    expect((err as Error).message).toMatch(/^\/mounts\/3\/options\/1: /);
    expect(() => parseMountOptions([''])).toThrow(/non-empty/);
  });

  it('maps rootfsPropagation values', () => {
    expect(propagationFlags('')).toBe(0);
    expect(propagationFlags('rslave')).toBe(MS.SLAVE | MS.REC);
    expect(() => propagationFlags('sideways', '/linux/rootfsPropagation')).toThrow(/\/linux\/rootfsPropagation: unknown propagation "sideways"/);
  });
});
