import { meets, parseRatios } from './run-all';
import { ratioLines } from './runtime';

describe('runtime bench RATIO lines', () => {
  const medians = { nodeMedianMs: 150, podrunMedianMs: 190, runcMedianMs: 50, libraryMedianMs: 20 };

  it('prints podrun (less node start-up) and the library path against runc, in the runner format', () => {
    const ratios = parseRatios('runtime', ratioLines(medians).join('\n'));
    expect(ratios.map((r) => [r.name, r.value, r.target])).toEqual([
      ['runtime/podrun-vs-runc', 0.8, '<=1.0'],
      ['runtime/library-vs-runc', 0.4, '<=0.5'],
    ]);
    expect(ratios[0]?.what).toBe('(podrun run − node -e 0) ÷ runc run, /bin/true');
    expect(meets(ratios[0]!.value, ratios[0]!.target)).toBe(true);
    expect(meets(ratios[1]!.value, ratios[1]!.target)).toBe(true);
    const slow = parseRatios('runtime', ratioLines({ ...medians, podrunMedianMs: 260 }).join('\n'));
    expect(slow[0]?.value).toBe(2.2);
    expect(meets(slow[0]!.value, slow[0]!.target)).toBe(false);
  });

  it('prints a ratio whatever extra figures it is given (a difference that noise made negative)', () => {
    const noisy = { ...medians, nodeMedianMs: 200, podrunOwnMs: -10, cliRatio: -0.2 };
    expect(parseRatios('runtime', ratioLines(noisy).join('\n')).map((r) => r.value)).toEqual([-0.2, 0.4]);
  });

  it('refuses to print a ratio without a runc median', () => {
    expect(() => ratioLines({ ...medians, runcMedianMs: 0 })).toThrow(/no median for runcMedianMs/);
    expect(() => ratioLines({ ...medians, libraryMedianMs: NaN })).toThrow(/no median for libraryMedianMs/);
  });
});
