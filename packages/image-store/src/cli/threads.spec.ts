import * as fs from 'node:fs';
import * as os from 'node:os';
import { HELPER_NICE, lowerHelperThreads } from './threads';

describe('lowerHelperThreads', () => {
  it('lowers every thread but the main one, and raises nothing', async () => {
    const before = os.getPriority(process.pid);
    await lowerHelperThreads();
    const tids = fs.readdirSync('/proc/self/task').map(Number);
    expect(tids.length).toBeGreaterThan(1);
    for (const tid of tids) {
      let p: number;
      try {
        p = os.getPriority(tid);
      } catch {
        continue; // ended meanwhile
      }
      if (tid === process.pid) expect(p).toBe(before);
      else expect(p).toBeGreaterThanOrEqual(HELPER_NICE);
    }
  });
});
