import { readdirSync, readFileSync } from "node:fs";

/** Linux process figures from /proc, for the benchmark's memory and CPU columns. */

/** Clock ticks per second of /proc/<pid>/stat times (CLK_TCK, 100 on Linux x86/arm). */
const CLK_TCK = 100;

export interface Memory {
  /** Resident set size now, MiB. */
  rssMiB: number;
  /** Peak resident set size so far (VmHWM), MiB. */
  peakMiB: number;
}

/** VmRSS and VmHWM of a live process; undefined when it is gone. */
export function memoryOf(pid: number): Memory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

interface StatLine {
  ppid: number;
  cpuMs: number;
}

function readStat(pid: number): StatLine | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
  const ppid = Number(fields[1]);
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { ppid, cpuMs: (ticks * 1000) / CLK_TCK };
}

/** User + system CPU time a process has used so far, ms (10 ms resolution). */
export function cpuMsOf(pid: number): number {
  return readStat(pid)?.cpuMs ?? Number.NaN;
}

/**
 * CPU time of a process and all its live descendants, ms. Used for the Postgres server, whose work
 * happens in per-connection backend processes (the bot's pooled connections stay open for a run).
 */
export function treeCpuMsOf(rootPid: number): number {
  const children = new Map<number, number[]>();
  const cpu = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    cpu.set(Number(entry), stat.cpuMs);
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push(Number(entry));
    children.set(stat.ppid, siblings);
  }
  let total = 0;
  const stack = [rootPid];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    total += cpu.get(pid) ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}
