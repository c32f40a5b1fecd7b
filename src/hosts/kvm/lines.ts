// Newline framing with a bound, for the two byte streams the KVM host reads (QMP and the agent's
// virtio-serial port). A line longer than the bound is reported as too long as soon as it passes
// the bound (not at its newline, which may never come), and its bytes are dropped up to the next
// newline, so a peer that never sends one cannot grow our buffer.

/** too-long: `bytes` is how much of the line had arrived when it passed the bound. */
export type LineEvent = { kind: 'line'; text: string } | { kind: 'too-long'; bytes: number };

export class LineSplitter {
  private parts: Buffer[] = [];
  private held = 0;
  /** Inside a line already reported too long: skip to its newline. */
  private skipping = false;

  /** maxBytes: the longest line accepted, without its newline. */
  constructor(private readonly maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError(`line bound must be >= 1 byte, got ${maxBytes}`);
  }

  /** Feeds a chunk; returns the complete lines (and overlong ones) it ends, in order. */
  push(chunk: Buffer): LineEvent[] {
    const out: LineEvent[] = [];
    let start = 0;
    while (start <= chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      const piece = chunk.subarray(start, end);
      if (this.skipping) {
        // dropped
      } else if (this.held + piece.length > this.maxBytes) {
        this.skipping = true;
        out.push({ kind: 'too-long', bytes: this.held + piece.length });
        this.parts = [];
        this.held = 0;
      } else if (piece.length > 0) {
        this.parts.push(piece);
        this.held += piece.length;
      }
      if (nl < 0) break;
      if (this.skipping) {
        this.skipping = false;
      } else {
        out.push({ kind: 'line', text: Buffer.concat(this.parts, this.held).toString('utf8') });
        this.parts = [];
        this.held = 0;
      }
      start = nl + 1;
    }
    return out;
  }

  /** Bytes held for an unfinished line. */
  get pending(): number {
    return this.held;
  }
}
