/**
 * Progress lines on stderr, so that stdout keeps only the results. On a terminal one line is
 * rewritten in place; otherwise a line is printed at each quarter of a step.
 */
export class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private lastQuarter = -1;

  constructor(private readonly total: number) {}

  private step = 0;
  private label = '';
  private target = 0;

  /** Starts step `label`, which counts up to `target` units. */
  begin(label: string, target: number): void {
    this.finishLine();
    this.step += 1;
    this.label = label;
    this.target = target;
    this.lastQuarter = -1;
    this.write(0);
  }

  /** Reports `done` units of the current step. */
  update(done: number): void {
    this.write(done);
  }

  /** Prints a note under the current step. */
  note(text: string): void {
    this.finishLine();
    process.stderr.write(`  ${text}\n`);
  }

  end(): void {
    this.finishLine();
  }

  private write(done: number): void {
    const prefix = `[${this.step}/${this.total}] ${this.label}`;
    const count = this.target > 0 ? ` ${done}/${this.target}` : '';
    if (this.tty) {
      process.stderr.write(`\r\x1b[2K${prefix}${count}`);
      return;
    }
    const quarter = this.target > 0 ? Math.floor((4 * done) / this.target) : 0;
    if (quarter === this.lastQuarter) return;
    this.lastQuarter = quarter;
    process.stderr.write(`${prefix}${count}\n`);
  }

  private finishLine(): void {
    if (this.tty && this.label !== '') process.stderr.write('\n');
    this.label = '';
  }
}
