import { readdirSync, readFileSync } from "node:fs";

/**
 * Memory of a process and every process under it, from /proc: what `npm start` costs the box.
 * RSS counts shared pages (code, Postgres shared buffers) once per process that maps them; PSS
 * splits them between those processes, so the PSS sum is what the tree really occupies.
 */
export interface TreeMemory {
  /** Sum of VmRSS over the tree, MiB. */
  rssMiB: number;
  /** Sum of Pss (smaps_rollup) over the tree, MiB. */
  pssMiB: number;
  /** The largest single process's RSS, MiB. */
  largestMiB: number;
  processes: { pid: number; name: string; rssMiB: number; pssMiB: number }[];
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/** `rootPid` and all its live descendants. */
export function processTree(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = parentOf(Number(entry));
    if (ppid === undefined) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const out: number[] = [];
  const stack = [rootPid];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

function kib(text: string, field: string): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
}

export function treeMemory(rootPid: number): TreeMemory {
  const processes: TreeMemory["processes"] = [];
  for (const pid of processTree(rootPid)) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
      const name = cmd[0]?.endsWith("postgres") || cmd[0]?.startsWith("postgres:") ? cmd.join(" ").slice(0, 60) : (cmd.slice(0, 2).join(" ").split("/").pop() ?? "?");
      processes.push({ pid, name, rssMiB: kib(status, "VmRSS") / 1024, pssMiB: kib(rollup, "Pss") / 1024 });
    } catch {
      // exited meanwhile
    }
  }
  const sum = (f: (p: TreeMemory["processes"][number]) => number) => processes.reduce((a, p) => a + f(p), 0);
  return {
    rssMiB: sum((p) => p.rssMiB),
    pssMiB: sum((p) => p.pssMiB),
    largestMiB: Math.max(0, ...processes.map((p) => p.rssMiB)),
    processes,
  };
}
