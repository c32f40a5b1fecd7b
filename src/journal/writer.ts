// Writes the journal (format.ts) as the supervisor runs. Appends are synchronous, one write(2) per
// line, so when the process dies it loses at most the line being written, and the reader can
// tell that line from a whole one (parseJournal's allowTruncatedTail).
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { SupervisorInput } from '../machines/events.ts';
import { InputError } from '../util/validate.ts';
import { encodeHeader, encodeInput } from './format.ts';

export interface JournalWriterOptions {
  /** Refuse to replace an existing file (default: an existing journal at `path` is replaced). */
  exclusive?: boolean;
  /**
   * fsync after every line: survives a machine crash, not only a process crash, at the cost of
   * a disk flush per input. Default false (the page cache survives the process).
   */
  durable?: boolean;
}

export class JournalWriter {
  private fd: number | null;
  private lastAt = -Infinity;
  private count = 0;

  private constructor(
    fd: number,
    readonly path: string,
    private readonly durable: boolean,
  ) {
    this.fd = fd;
  }

  /** Creates (or replaces) the journal at `path` and writes its header line. */
  static open(path: string, header: { startedAt: number; config: unknown }, opts: JournalWriterOptions = {}): JournalWriter {
    const line = encodeHeader(header); // before opening: a bad header leaves no file behind
    const fd = openSync(path, opts.exclusive ? 'wx' : 'w', 0o640);
    const w = new JournalWriter(fd, path, opts.durable ?? false);
    w.writeLine(line);
    return w;
  }

  /** Inputs appended so far (the header not counted). */
  get appended(): number {
    return this.count;
  }

  /**
   * Appends one input. Throws (and writes nothing) if the input would not read back: a bad
   * field, or an `at` earlier than the previous input's.
   */
  append(input: SupervisorInput): void {
    if (this.fd === null) throw new Error(`journal ${this.path} is closed`);
    const line = encodeInput(input);
    if (input.at < this.lastAt) {
      throw new InputError('input.at', `${input.at} is earlier than the previous input's ${this.lastAt} (at must not decrease)`);
    }
    this.writeLine(line);
    this.lastAt = input.at;
    this.count += 1;
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    fsyncSync(fd);
    closeSync(fd);
  }

  private writeLine(line: string): void {
    const fd = this.fd;
    if (fd === null) throw new Error(`journal ${this.path} is closed`);
    const buf = Buffer.from(line + '\n', 'utf8');
    // write(2) to a regular file may still write less than asked (a full disk, a signal).
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    if (this.durable) fsyncSync(fd);
  }
}
