/**
 * Pull progress: bars redrawn in place on a terminal, plain lines (one per state change) otherwise.
 */
import type { PullEvent } from '../images/types';

function human(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

interface LayerState {
  status: string;
  done: number;
  total: number;
}

export class PullProgress {
  private readonly layers = new Map<string, LayerState>();
  private drawn = 0;
  private lastDraw = 0;

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    private readonly tty = out.isTTY === true,
  ) {}

  event(e: PullEvent): void {
    if (e.type === 'resolved') {
      this.line(`resolved ${e.name} to ${e.digest}`);
      return;
    }
    if (e.type === 'done') {
      this.draw(true);
      return;
    }
    const key = e.digest.slice('sha256:'.length, 'sha256:'.length + 12);
    const prev = this.layers.get(key);
    this.layers.set(key, { status: e.status, done: e.done, total: e.total });
    if (this.tty) this.draw(e.status !== 'downloading');
    else if (!prev || prev.status !== e.status) {
      if (e.status === 'downloading' && prev?.status === 'resuming') return;
      this.out.write(`${key}: ${e.status}${e.status === 'resuming' ? ` at ${human(e.done)}` : ''} (${human(e.total)})\n`);
    }
  }

  private line(s: string): void {
    if (this.tty && this.drawn > 0) {
      // Keep the bars below any message.
      this.out.write(`\x1b[${this.drawn}A\x1b[J`);
      this.drawn = 0;
    }
    this.out.write(`${s}\n`);
  }

  private draw(force: boolean): void {
    if (!this.tty) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = Math.max(10, Math.min(40, (this.out.columns ?? 80) - 50));
    const lines = [...this.layers].map(([key, s]) => {
      const frac = s.total > 0 ? Math.min(1, s.done / s.total) : 1;
      const fill = Math.round(frac * width);
      return `${key} ${s.status.padEnd(11)} [${'='.repeat(fill)}${' '.repeat(width - fill)}] ${human(s.done)}/${human(s.total)}`;
    });
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A`);
    this.out.write(lines.map((l) => `\x1b[2K${l}\n`).join(''));
    this.drawn = lines.length;
  }
}

export { human };
