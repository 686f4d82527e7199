import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { discover, formatTable, meets, parseRatios, parseRunAllArgs, type BenchOutcome } from './run-all';

describe('bench runner', () => {
  it('parses RATIO lines and ignores everything else', () => {
    const out = ['header', 'RATIO cni/add-del 1.042 <1.10 runner ÷ shell script', 'RATIO x/y notanumber -', '  RATIO a/b 2 - ', 'ratio runner/shell: 1.04'].join('\n');
    expect(parseRatios('cni', out)).toEqual([
      { bench: 'cni', name: 'cni/add-del', value: 1.042, target: '<1.10', what: 'runner ÷ shell script' },
      { bench: 'cni', name: 'a/b', value: 2, target: '-', what: '' },
    ]);
  });

  it('checks targets', () => {
    expect(meets(1.05, '<1.10')).toBe(true);
    expect(meets(1.1, '<1.10')).toBe(false);
    expect(meets(1.1, '<=1.10')).toBe(true);
    expect(meets(0.5, '>=1')).toBe(false);
    expect(meets(2, '>1')).toBe(true);
    expect(meets(2, '-')).toBeUndefined();
    expect(meets(2, 'fast')).toBeUndefined();
  });

  it('prints one table: ratios, and the last lines of benchmarks without RATIO lines or that failed', () => {
    const outcomes: BenchOutcome[] = [
      { bench: 'cni', ok: true, seconds: 1, ratios: [{ bench: 'cni', name: 'cni/add-del', value: 1.2, target: '<1.10', what: 'runner ÷ shell' }], tail: [] },
      { bench: 'image', ok: true, seconds: 1, ratios: [], tail: ['variant median', 'podimg 120 ms 0.90'] },
      { bench: 'oops', ok: false, seconds: 1, ratios: [], tail: ['boom', '(exit 1)'] },
    ];
    const text = formatTable(outcomes);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^benchmark\s+ratio\s+target\s+podkit vs peer$/);
    expect(lines[1]).toMatch(/^cni\/add-del\s+1\.200\s+<1\.10\s+MISSED\s+runner ÷ shell$/);
    expect(lines[2]).toContain('image (no RATIO lines)');
    expect(lines[2]).toContain('variant median | podimg 120 ms 0.90');
    expect(lines[3]).toContain('oops (no RATIO lines, FAILED)');
    const md = formatTable(outcomes, true).split('\n');
    expect(md[0]).toBe('| benchmark | ratio | target |  | podkit vs peer |');
    expect(md[2]).toBe('| cni/add-del | 1.200 | <1.10 | MISSED | runner ÷ shell |');
    expect(md[3]).toContain('variant median \\| podimg');
  });

  it('discovers the scripts beside it, not itself', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-bench-'));
    try {
      for (const f of ['run-all.js', 'cni.js', 'image.js', 'cni.d.ts', 'x.js.map']) fs.writeFileSync(path.join(dir, f), '');
      expect(discover(dir, path.join(dir, 'run-all.js'))).toEqual([path.join(dir, 'cni.js'), path.join(dir, 'image.js')]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes a round count, a filter, a timeout and --markdown', () => {
    expect(parseRunAllArgs([])).toEqual({ rounds: 3, markdown: false, timeoutMs: 900_000 });
    expect(parseRunAllArgs(['--rounds', '2', '--only', 'cni,image', '--markdown', '--timeout', '60'])).toEqual({ rounds: 2, only: ['cni', 'image'], markdown: true, timeoutMs: 60_000 });
    expect(() => parseRunAllArgs(['--rounds', '0'])).toThrow(/--rounds/);
    expect(() => parseRunAllArgs(['--timeout', 'x'])).toThrow(/--timeout/);
  });
});
