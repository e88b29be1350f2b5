/**
 * Merge progress on stderr: a live line (tensors and bytes done) on a terminal, nothing but the
 * final summary otherwise (logs stay readable), and only warnings with `--quiet`.
 */

/** Where progress and summaries go. */
export interface ProgressOptions {
  stream: NodeJS.WritableStream & { isTTY?: boolean };
  quiet: boolean;
}

/** Bytes as KiB / MiB / GiB for people. */
export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(1)} KiB`;
}

/** Progress of one phase (one format's merge) plus summary and warning lines. */
export class Progress {
  private label = '';
  private tensors = 0;
  private totalTensors = 0;
  private bytes = 0;
  private totalBytes = 0;
  private lastDraw = 0;
  private readonly live: boolean;

  constructor(private readonly opts: ProgressOptions) {
    this.live = Boolean(opts.stream.isTTY) && !opts.quiet;
  }

  /** Starts a phase that will read `totalBytes` input bytes in `totalTensors` tensors (0: bytes only). */
  start(label: string, totalTensors: number, totalBytes: number): void {
    Object.assign(this, { label, tensors: 0, totalTensors, bytes: 0, totalBytes, lastDraw: 0 });
    this.draw(true);
  }

  /** Counts input bytes read. */
  addBytes(n: number): void {
    this.bytes += n;
    this.draw(false);
  }

  /** Counts a finished tensor. */
  tensorDone(): void {
    this.tensors += 1;
    this.draw(this.tensors === this.totalTensors);
  }

  /** Prints a summary line (not with --quiet). */
  info(line: string): void {
    if (!this.opts.quiet) this.print(line);
  }

  /** Prints a warning, even with --quiet. */
  warn(line: string): void {
    this.print(`warning: ${line}`);
  }

  private print(line: string): void {
    if (this.live) this.opts.stream.write('\r\x1b[K');
    this.opts.stream.write(`${line}\n`);
  }

  private draw(force: boolean): void {
    if (!this.live) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const pct = this.totalBytes > 0 ? ((100 * this.bytes) / this.totalBytes).toFixed(0) : '100';
    this.opts.stream.write(
      `\r\x1b[K${this.label}: ${this.totalTensors > 0 ? `${this.tensors}/${this.totalTensors} tensors, ` : ''}${formatBytes(this.bytes)} / ${formatBytes(this.totalBytes)} read (${pct}%)`,
    );
  }

  /** Ends the live line of the current phase. */
  end(): void {
    if (this.live) this.opts.stream.write('\n');
  }
}
