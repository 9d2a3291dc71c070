import { StringDecoder } from "node:string_decoder";

/** Default cap on kept output (ports.ts ExecOptions.maxOutputBytes). */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;

type StreamName = "stdout" | "stderr";

/**
 * Collects a command's stdout and stderr under one byte budget, keeping the tail (the end of a
 * failing build is what explains it), and hands decoded chunks to a live listener as they arrive.
 * Shared by the SSH and local shells.
 */
export class OutputCapture {
  private readonly chunks: { stream: StreamName; data: Buffer }[] = [];
  private total = 0;
  private dropped = false;
  private readonly decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };

  constructor(
    private readonly maxBytes: number = DEFAULT_MAX_OUTPUT_BYTES,
    private readonly onOutput?: (chunk: string, stream: StreamName) => void,
  ) {
    if (!Number.isInteger(maxBytes) || maxBytes < 0) throw new TypeError("maxOutputBytes must be a non-negative integer");
  }

  push(stream: StreamName, data: Buffer): void {
    if (data.length === 0) return;
    this.notify(stream, this.decoders[stream].write(data));
    this.chunks.push({ stream, data });
    this.total += data.length;
    while (this.total > this.maxBytes) {
      const first = this.chunks[0];
      if (!first) break;
      const excess = this.total - this.maxBytes;
      this.dropped = true;
      if (first.data.length <= excess) {
        this.chunks.shift();
        this.total -= first.data.length;
      } else {
        first.data = first.data.subarray(excess);
        this.total -= excess;
      }
    }
  }

  /** Flushes partial characters to the listener and returns what was kept. */
  finish(): { stdout: string; stderr: string; truncated: boolean } {
    this.notify("stdout", this.decoders.stdout.end());
    this.notify("stderr", this.decoders.stderr.end());
    return { stdout: this.decode("stdout"), stderr: this.decode("stderr"), truncated: this.dropped };
  }

  private decode(stream: StreamName): string {
    let data = Buffer.concat(this.chunks.filter((c) => c.stream === stream).map((c) => c.data));
    // The cut may have split a UTF-8 character: drop its continuation bytes rather than show U+FFFD.
    if (this.dropped) {
      let start = 0;
      while (start < data.length && start < 3 && ((data[start] ?? 0) & 0xc0) === 0x80) start++;
      data = data.subarray(start);
    }
    return data.toString("utf8");
  }

  private notify(stream: StreamName, text: string): void {
    if (!this.onOutput || text === "") return;
    try {
      this.onOutput(text, stream);
    } catch {
      // A broken progress listener must not break the command it is watching.
    }
  }
}
