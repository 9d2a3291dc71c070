import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";

/** Where a Node process spent its CPU, from a V8 `.cpuprofile` written by `node --cpu-prof`. */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  ms: number;
  /** Share of the busy (non-idle) time, 0..1. */
  share: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  /** Self time grouped by where the code lives: an npm package, a source file of ours, node internals, GC. */
  byArea: ProfileEntry[];
  /** Self time per function. */
  byFunction: ProfileEntry[];
  /** Inclusive time (self + callees) of functions in our own src/ files. */
  inclusiveOwn: ProfileEntry[];
}

const ROOT = resolve(import.meta.dirname, "../..");

function areaOf(url: string, functionName: string): string {
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  const path = url.replace(/^file:\/\//, "");
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1]!;
  if (path.startsWith("node:")) return "node internals";
  if (path.startsWith(ROOT)) return relative(ROOT, path);
  return path;
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url ? `${url.replace(/^file:\/\//, "").replace(`${ROOT}/`, "")}:${lineNumber + 1}` : "";
  return `${functionName || "(anonymous)"}${where ? ` ${where}` : ""}`;
}

/** Summarises one profile. `top` limits each list. */
export function summarizeProfile(profile: CpuProfile, top = 15): ProfileSummary {
  const selfMs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  let idleMs = 0;
  const area = new Map<string, number>();
  const fn = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === "(idle)") {
      idleMs += ms;
      continue;
    }
    const a = areaOf(node.callFrame.url, node.callFrame.functionName);
    area.set(a, (area.get(a) ?? 0) + ms);
    fn.set(label(node), (fn.get(label(node)) ?? 0) + ms);
  }
  // Inclusive time of our own functions: walk the tree once, counting each own function once per stack.
  const inclusive = new Map<string, number>();
  const walk = (id: number, onStack: Set<string>): number => {
    const node = byId.get(id)!;
    let total = selfMs.get(id) ?? 0;
    const own = node.callFrame.url.includes(`${ROOT}/src/`);
    const key = label(node);
    const counted = own && !onStack.has(key);
    if (counted) onStack.add(key);
    for (const child of node.children ?? []) total += walk(child, onStack);
    if (counted) {
      onStack.delete(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + total);
    }
    return total;
  };
  const root = profile.nodes[0];
  if (root) walk(root.id, new Set());

  const busyMs = [...area.values()].reduce((a, b) => a + b, 0);
  const list = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, share: busyMs > 0 ? ms / busyMs : 0 }));
  return { busyMs, idleMs, byArea: list(area), byFunction: list(fn), inclusiveOwn: list(inclusive) };
}

/** Reads the (single) `.cpuprofile` a process wrote into `dir`. */
export function readProfileFrom(dir: string): CpuProfile | undefined {
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  return file ? (JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile) : undefined;
}

/** Plain-text rendering for the console. */
export function renderProfile(title: string, summary: ProfileSummary): string {
  const pct = (s: number) => `${(s * 100).toFixed(1).padStart(5)}%`;
  const rows = (entries: ProfileEntry[]) => entries.map((e) => `    ${pct(e.share)} ${e.ms.toFixed(0).padStart(6)} ms  ${e.name}`).join("\n");
  return [
    `CPU profile: ${title} — busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms`,
    "  self time by area:",
    rows(summary.byArea),
    "  self time by function:",
    rows(summary.byFunction),
    "  inclusive time of src/ functions:",
    rows(summary.inclusiveOwn),
  ].join("\n");
}
