import type { ExecOptions, ExecResult, RemoteShell } from "../../src/shared/ports.js";

/** The real shell, counting what it is asked to run (to prove "nothing ran"). */
export class RecordingShell implements RemoteShell {
  calls: string[] = [];
  constructor(private readonly inner: RemoteShell) {}
  exec(argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
    this.calls.push(argv.join(" "));
    return this.inner.exec(argv, options);
  }
  execTrusted(line: string, options: ExecOptions): Promise<ExecResult> {
    this.calls.push(`TRUSTED ${line}`);
    return this.inner.execTrusted(line, options);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
