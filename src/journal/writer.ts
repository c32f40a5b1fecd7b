// Writes the journal (format.ts) as the supervisor runs. Appends are synchronous, one write(2) per
// line, so when the process dies it loses at most the line being written, and the reader can
// tell that line from a whole one (parseJournal's allowTruncatedTail).
//
// Every line after the header carries `seq` (1, 2, ...), so a line missing from the middle is
// detected on reading.
//
// What it never does: truncate an earlier journal (a restart rotates the old file to J.1, J.1 to
// J.2, ... keeping JOURNAL_KEEP of them: the record of the run that crashed is what an operator
// needs), follow a symbolic link at the journal's path, or leave half a line in the file (a
// short write is cut back to the line's start). When the disk is full it does not stop the
// daemon either: balancing goes on, the lines that could not be written are counted, and when
// writing works again a `journal.gap` line says how many inputs are missing (format.ts), so a
// replay knows its decisions after the gap may differ.
import { type Stats, closeSync, constants, fsyncSync, ftruncateSync, lstatSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SupervisorInput } from '../vocabulary/events.ts';
import { InputError } from '../util/validate.ts';
import { encodeGap, encodeHeader, encodeInput, withSeq } from './format.ts';

/**
 * Old journals kept beside the current one (J.1 newest ... J.9 oldest), as logrotate's common
 * `rotate` counts do: a crash loop under a service manager's restarts cannot fill the disk, and
 * the last several runs stay replayable.
 */
export const JOURNAL_KEEP = 9;
/** The journal is the host's memory history: root and its group may read it, others not. */
const JOURNAL_MODE = 0o640;
/** The journal's folder when memcoop has to create it. */
const JOURNAL_DIR_MODE = 0o750;

export interface JournalWriterOptions {
  /** Refuse an existing file at `path` (default: rotate it to `path`.1 and start a new one). */
  exclusive?: boolean;
  /**
   * fsync after every line: survives a machine crash, not only a process crash, at the cost of
   * a disk flush per input. Default false (the page cache survives the process).
   */
  durable?: boolean;
  /** Old journals kept (default JOURNAL_KEEP). */
  keep?: number;
}

/** The journal's path cannot be used: names the path and why, in one sentence. */
export class JournalPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JournalPathError';
  }
}

/** Told once when a gap opens (the first line the disk refused) and once when it closes. */
export interface GapHooks {
  opened?(error: NodeJS.ErrnoException): void;
  /** A gap line was written: `missing` inputs are not in the journal. */
  closed?(missing: number): void;
}

export class JournalWriter {
  private fd: number | null;
  private lastAt = -Infinity;
  private count = 0;
  /** Bytes of whole lines in the file: where a short write is cut back to. */
  private size = 0;
  /** Inputs not written since the last line that was (0: no gap open). */
  private missing = 0;
  private gaps = 0;
  /** A short write could not be cut back: the next write starts a new line first. */
  private torn = false;
  /** The last line's sequence number (format.ts: every line after the header has one). */
  private seq = 0;

  private constructor(
    fd: number,
    readonly path: string,
    private readonly durable: boolean,
    private readonly hooks: GapHooks,
  ) {
    this.fd = fd;
  }

  /**
   * Creates the journal at `path` (and its folder) and writes its header line. An existing
   * journal is rotated, never replaced; a link or anything but a regular file at `path` is
   * refused with JournalPathError.
   */
  static open(
    path: string,
    header: { startedAt: number; config: unknown },
    opts: JournalWriterOptions = {},
    hooks: GapHooks = {},
  ): JournalWriter {
    const line = encodeHeader(header); // before opening: a bad header leaves no file behind
    mkdirSync(dirname(path), { recursive: true, mode: JOURNAL_DIR_MODE });
    const existing = lstatOrNull(path);
    if (existing !== null) {
      if (existing.isSymbolicLink()) {
        throw new JournalPathError(`journal ${path} is a symbolic link; memcoop does not follow links at the journal's path (name the real file)`);
      }
      if (!existing.isFile()) throw new JournalPathError(`journal ${path} exists and is not a regular file`);
      if (opts.exclusive) throw new JournalPathError(`journal ${path} already exists (EEXIST)`);
      rotate(path, opts.keep ?? JOURNAL_KEEP);
    }
    // O_EXCL|O_NOFOLLOW: a link or file planted at the path since the check is refused, not followed.
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, JOURNAL_MODE);
    } catch (err) {
      throw new JournalPathError(`journal ${path} cannot be created: ${(err as Error).message}`);
    }
    const w = new JournalWriter(fd, path, opts.durable ?? false, hooks);
    if (!w.writeLine(line)) {
      closeSync(fd);
      throw new JournalPathError(`journal ${path}: the header could not be written (is the disk full?)`);
    }
    return w;
  }

  /** Inputs appended so far (the header not counted). */
  get appended(): number {
    return this.count;
  }

  /** Inputs dropped for want of disk since the journal last wrote a line (0: none). */
  get missingNow(): number {
    return this.missing;
  }

  /** Gaps opened so far (each a run of inputs the disk refused). */
  get gapCount(): number {
    return this.gaps;
  }

  /**
   * Appends one input. Throws (and writes nothing) if the input would not read back: a bad
   * field, or an `at` earlier than the previous input's. Returns false when the disk refused the
   * line: the input is then counted in a gap and the caller carries on (balancing must not
   * stop because /var filled up).
   */
  append(input: SupervisorInput): boolean {
    if (this.fd === null) throw new Error(`journal ${this.path} is closed`);
    const line = encodeInput(input);
    if (input.at < this.lastAt) {
      throw new InputError('input.at', `${input.at} is earlier than the previous input's ${this.lastAt} (at must not decrease)`);
    }
    this.lastAt = input.at;
    // After a gap, its gap line and this input go in one write: both land or neither does, so a
    // disk with room for the short gap line only does not open a new gap each time.
    const missing = this.missing;
    const s = this.seq;
    const text = missing > 0 ? `${withSeq(s + 1, encodeGap({ at: input.at, missing }))}\n${withSeq(s + 2, line)}` : withSeq(s + 1, line);
    if (!this.writeLine(text)) {
      this.missing += 1;
      return false;
    }
    this.seq = s + (missing > 0 ? 2 : 1);
    this.missing = 0;
    if (missing > 0) this.hooks.closed?.(missing);
    this.count += 1;
    return true;
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      fsyncSync(fd);
    } catch {
      // A full disk can fail the flush too; what was written stays written.
    }
    closeSync(fd);
  }

  /** Writes one whole line, or nothing: false (and the gap opened) when the disk refused it. */
  private writeLine(line: string): boolean {
    const fd = this.fd;
    if (fd === null) throw new Error(`journal ${this.path} is closed`);
    const buf = Buffer.from((this.torn ? '\n' : '') + line + '\n', 'utf8');
    let off = 0;
    try {
      // write(2) to a regular file may still write less than asked (a full disk, a signal).
      // Positioned at the end of the whole lines, so a cut-back fragment is overwritten, not
      // followed by a hole.
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, this.size + off);
      if (this.durable) fsyncSync(fd);
    } catch (err) {
      if (off > 0) {
        try {
          ftruncateSync(fd, this.size);
        } catch {
          // Cut back failed: the fragment stays, so the next line starts on a line of its own
          // and the reader sees one damaged line just before the gap record.
          this.torn = true;
          this.size += off;
        }
      }
      if (this.missing === 0) {
        this.gaps += 1;
        this.hooks.opened?.(err as NodeJS.ErrnoException);
      }
      return false;
    }
    this.torn = false;
    this.size += buf.length;
    return true;
  }
}

function lstatOrNull(path: string): Stats | null {
  return lstatSync(path, { throwIfNoEntry: false }) ?? null;
}

/** path.(keep-1) -> path.keep, ..., path -> path.1; what was path.keep is dropped. */
function rotate(path: string, keep: number): void {
  for (let i = keep - 1; i >= 1; i--) {
    if (lstatOrNull(`${path}.${i}`) !== null) renameSync(`${path}.${i}`, `${path}.${i + 1}`);
  }
  renameSync(path, `${path}.1`);
}
