import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, inject } from "vitest";
import { SshShell } from "../../src/infra/ssh/shell.js";
import type { ExecOptions } from "../../src/shared/ports.js";
import { startSandbox, type Sandbox } from "../sandbox/index.js";

/** A generous per-command timeout for tests against the sandbox. */
export const T: ExecOptions = { timeoutMs: 20_000 };

type ShellOptions = ConstructorParameters<typeof SshShell>[0];

/** The sandbox of one test file, with SSH shells to it that are closed at the end. */
export interface RemoteSandbox {
  readonly sandbox: Sandbox;
  /** A temp dir of this file, removed at the end. */
  readonly scratch: string;
  /** A shell to the sandbox's sshd; options override (known_hosts, port, log …). */
  sshShell(overrides?: Partial<ShellOptions>): SshShell;
  /** A known_hosts file pinning the sandbox's host key for 127.0.0.1:`port` (a relay in front of sshd). */
  knownHostsFor(port: number, name?: string): string;
}

/** Starts the sandbox in beforeAll and stops it, and every shell, in afterAll. */
export function useRemoteSandbox(): RemoteSandbox {
  let sandbox: Sandbox | undefined;
  let scratch = "";
  const shells: SshShell[] = [];
  beforeAll(async () => {
    sandbox = await startSandbox({ postgresUrl: inject("postgresUrl") });
    scratch = mkdtempSync(join(tmpdir(), "opsgram-remote-"));
  }, 180_000);
  afterAll(async () => {
    await Promise.all(shells.map((s) => s.close()));
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    await sandbox?.stop();
  });
  return {
    get sandbox() {
      return sandbox!;
    },
    get scratch() {
      return scratch;
    },
    sshShell(overrides = {}) {
      const ssh = sandbox!.ssh;
      const shell = new SshShell({
        host: ssh.host,
        port: ssh.port,
        username: ssh.username,
        privateKeyPath: ssh.privateKeyPath,
        knownHostsPath: ssh.knownHostsPath,
        connectTimeoutMs: 5_000,
        keepaliveIntervalMs: 5_000,
        ...overrides,
      });
      shells.push(shell);
      return shell;
    },
    knownHostsFor(port, name = `kh-${port}`) {
      const path = join(scratch, name);
      writeFileSync(path, `[127.0.0.1]:${port} ${sandbox!.ssh.hostKeyPublic}\n`);
      return path;
    },
  };
}

/** Whether a process whose command line contains `pattern` exists (checked over a second exec). */
export async function remoteProcessExists(shell: SshShell, pattern: string): Promise<boolean> {
  // `[s]leep` so the pattern does not match the checking shell's own command line.
  const bracketed = `[${pattern[0]}]${pattern.slice(1)}`;
  const r = await shell.exec(["pgrep", "-f", bracketed], T);
  return r.code === 0;
}

/**
 * A logger that keeps every message, so a test can wait for what the code reports ("ssh
 * connection closed") instead of sleeping until it probably happened.
 */
export function capturingLogger(): { log: pino.Logger; messages: string[] } {
  const messages: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line) messages.push((JSON.parse(line) as { msg: string }).msg);
      done();
    },
  });
  return { log: pino({ level: "debug" }, sink), messages };
}
