/** Where a download reports how far it got. */
export interface Progress {
  start(path: string, total: number | undefined, from: number): void;
  advance(bytes: number): void;
  /** A retry or another event worth a line of its own. */
  note(message: string): void;
  finish(): void;
}

export interface Output {
  write(text: string): unknown;
}

const BAR_WIDTH = 24;

/** One redrawn line per file with a bar, bytes, percent and rate: for a terminal. */
export class BarProgress implements Progress {
  private state = { path: '', total: undefined as number | undefined, done: 0, fresh: 0, startedAt: 0, drawnAt: 0 };

  constructor(
    private readonly out: Output,
    private readonly columns = 100,
  ) {}

  start(path: string, total: number | undefined, from: number): void {
    this.state = { path, total, done: from, fresh: 0, startedAt: Date.now(), drawnAt: 0 };
    this.draw();
  }

  advance(bytes: number): void {
    this.state.done += bytes;
    this.state.fresh += bytes;
    if (Date.now() - this.state.drawnAt >= 100) this.draw();
  }

  note(message: string): void {
    this.out.write(`\r\x1b[K${message}\n`);
    this.draw();
  }

  finish(): void {
    this.draw();
    this.out.write('\n');
  }

  private draw(): void {
    const { path, total, done, fresh, startedAt } = this.state;
    const ratio = total ? Math.min(1, done / total) : 0;
    const filled = Math.round(ratio * BAR_WIDTH);
    const bar = total ? `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}%` : '';
    const sizes = total ? `${formatBytes(done)}/${formatBytes(total)}` : formatBytes(done);
    const tail = `  ${bar}  ${sizes}  ${formatRate(fresh, Date.now() - startedAt)}`;
    const room = Math.max(10, this.columns - tail.length - 1);
    const name = path.length > room ? `…${path.slice(path.length - room + 1)}` : path;
    this.out.write(`\r\x1b[K${name}${tail}`);
    this.state.drawnAt = Date.now();
  }
}

/** Plain lines, at most one a second per file: for logs and pipes. */
export class LineProgress implements Progress {
  private state = { path: '', total: undefined as number | undefined, done: 0, fresh: 0, startedAt: 0, printedAt: 0 };

  constructor(private readonly out: Output) {}

  start(path: string, total: number | undefined, from: number): void {
    this.state = { path, total, done: from, fresh: 0, startedAt: Date.now(), printedAt: Date.now() };
    if (from > 0) this.out.write(`${path}: resuming at ${formatBytes(from)}${total ? ` of ${formatBytes(total)}` : ''}\n`);
  }

  advance(bytes: number): void {
    this.state.done += bytes;
    this.state.fresh += bytes;
    if (Date.now() - this.state.printedAt >= 1000) {
      const { path, total, done, fresh, startedAt } = this.state;
      const percent = total ? ` (${Math.floor((done / total) * 100)}%)` : '';
      this.out.write(
        `${path}: ${formatBytes(done)}${total ? ` of ${formatBytes(total)}` : ''}${percent}, ${formatRate(fresh, Date.now() - startedAt)}\n`,
      );
      this.state.printedAt = Date.now();
    }
  }

  note(message: string): void {
    this.out.write(`${message}\n`);
  }

  finish(): void {
    const { path, done, fresh, startedAt } = this.state;
    const ms = Date.now() - startedAt;
    this.out.write(`${path}: ${formatBytes(done)} done (${formatBytes(fresh)} in ${(ms / 1000).toFixed(1)} s, ${formatRate(fresh, ms)})\n`);
  }
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = n / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function formatRate(bytes: number, ms: number): string {
  return ms > 0 ? `${formatBytes(Math.round((bytes * 1000) / ms))}/s` : '-';
}
