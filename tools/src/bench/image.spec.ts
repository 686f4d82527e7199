import { FLAT, FLOOR, PEER, PULL, ratioLines } from './image';
import { meets, parseRatios } from './run-all';

describe('image bench RATIO lines', () => {
  const medians = new Map([
    [PULL, 520],
    [FLAT, 900],
    [PEER, 1000],
    [FLOOR, 400],
  ]);

  it('prints podimg pull against skopeo + umoci and against the gzip floor, in the runner format', () => {
    const ratios = parseRatios('image', ratioLines(medians).join('\n'));
    expect(ratios.map((r) => [r.name, r.value, r.target])).toEqual([
      ['image/pull-vs-skopeo-umoci', 0.52, '<=1.0'],
      ['image/pull-vs-gzip-floor', 1.3, '<=1.3'],
      ['image/flat-vs-skopeo-umoci', 0.9, '-'],
    ]);
    expect(ratios[0]?.what).toBe('podimg pull ÷ skopeo copy + umoci unpack');
    expect(meets(ratios[0]!.value, ratios[0]!.target)).toBe(true);
    expect(meets(ratios[1]!.value, ratios[1]!.target)).toBe(true);
  });

  it('refuses to print a ratio without both medians', () => {
    expect(() => ratioLines(new Map([[PULL, 1]]))).toThrow(/no median for skopeo copy \+ umoci unpack/);
  });
});
