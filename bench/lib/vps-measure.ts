import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { toCommandLine } from "../../src/commands/quote.js";
import { pinnedSshArgs, type Sandbox } from "../../test/sandbox/index.js";
import { percentileSorted } from "./stats.js";

/** Measuring helpers shared by bench/status.ts, bench/deploy.ts and bench/backup.ts. */

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  /** 1/5/15-minute load averages when the benchmark started. */
  loadAtStart: number[];
}

export function machineInfo(): Machine {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown",
    node: process.version,
    loadAtStart: loadavg().map((l) => round(l, 2)),
  };
}

export interface LoadSummary {
  /** 1-minute load average, sampled every 2 s while the measurements ran. */
  min: number;
  mean: number;
  max: number;
  samples: number;
}

/**
 * Samples the 1-minute load average while measurements run: other people's tests share the two
 * cores, and a figure taken at load 8 is not the figure of an idle machine.
 */
export function sampleLoad(intervalMs = 2_000): { stop(): LoadSummary } {
  const values: number[] = [loadavg()[0]!];
  const timer = setInterval(() => values.push(loadavg()[0]!), intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      values.push(loadavg()[0]!);
      return {
        min: round(Math.min(...values), 2),
        mean: round(values.reduce((a, b) => a + b, 0) / values.length, 2),
        max: round(Math.max(...values), 2),
        samples: values.length,
      };
    },
  };
}

/** The OpenSSH client command line an operator's script uses for the sandbox (pinned host key). */
export function sshCommand(sandbox: Sandbox): string {
  return toCommandLine(["ssh", ...pinnedSshArgs(sandbox.ssh)]);
}

export interface ScriptRun {
  ms: number;
  stdout: string;
  stderr: string;
}

/** Writes `body` to `dir/name` (a bash script, `set -eu`) and returns its path. */
export function writeScript(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/bash\nset -eu\n${body.trim()}\n`, { mode: 0o755 });
  return path;
}

/**
 * Runs a baseline script and times it from spawn to exit (what `time ./script.sh` shows). A
 * non-zero exit or a timeout throws: a failed baseline must never count as a fast one.
 */
export function runScript(path: string, args: string[] = [], options: { timeoutMs?: number; stdoutFd?: number } = {}): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn("bash", [path, ...args], {
      stdio: ["ignore", options.stdoutFd ?? "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", LC_ALL: "C" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => (stdout = (stdout + c.toString("utf8")).slice(-64_000)));
    child.stderr?.on("data", (c: Buffer) => (stderr = (stderr + c.toString("utf8")).slice(-64_000)));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      if (code === 0) resolve({ ms, stdout, stderr });
      else reject(new Error(`${path} exited ${code ?? signal} after ${Math.round(ms)} ms:\n${stderr.slice(-3000)}${stdout.slice(-1000)}`));
    });
  });
}

export interface RssTrace {
  beforeMiB: number;
  peakMiB: number;
  afterMiB: number;
  /** peak − before. */
  growthMiB: number;
  samples: number;
}

/** Samples this process's RSS every `intervalMs` until stopped (the bot runs in this process). */
export function sampleRss(intervalMs = 20): { stop(): RssTrace } {
  const mib = () => process.memoryUsage.rss() / (1024 * 1024);
  const before = mib();
  let peak = before;
  let samples = 1;
  const timer = setInterval(() => {
    peak = Math.max(peak, mib());
    samples++;
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      const after = mib();
      peak = Math.max(peak, after);
      return { beforeMiB: round(before, 1), peakMiB: round(peak, 1), afterMiB: round(after, 1), growthMiB: round(peak - before, 1), samples: samples + 1 };
    },
  };
}

export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  min: number;
  max: number;
  mean: number;
}

/** Nearest-rank p50/p95 (with n = 10, p95 is the maximum). */
export function percentiles(samples: readonly number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: round(percentileSorted(sorted, 50), 1),
    p95: round(percentileSorted(sorted, 95), 1),
    min: round(sorted[0] ?? Number.NaN, 1),
    max: round(sorted.at(-1) ?? Number.NaN, 1),
    mean: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length), 1),
  };
}

/** The median of a few trials (the mean of the middle two for an even count). */
export function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function round(value: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** "1234 ms" / "12.3 s" for a table cell. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

export function fmtLoad(load: LoadSummary): string {
  return `${load.min}–${load.max} (mean ${load.mean})`;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** "bench/x.ts — 2 cores (…), Node v20…, load 1-min 3.2 at start" for the console. */
export function describeMachine(name: string, machine: Machine): string {
  return `${name} — ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, load average ${machine.loadAtStart.join(" ")} at start`;
}
