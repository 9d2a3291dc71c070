/**
 * A scripted stand-in for a target's git checkout + compose app, answering the argv the operations
 * build: enough to unit-test plans, step order, failure handling and rollbacks. The real sandbox
 * covers the same paths in test/integration.
 */
import type { ExecResult } from "../../src/shared/ports.js";
import { FakeShell } from "./operations-fakes.js";

export const SHA = {
  v1: "1111111111111111111111111111111111111111",
  v2: "2222222222222222222222222222222222222222",
  broken: "3333333333333333333333333333333333333333",
};

export interface FakeRepoState {
  head: string;
  /** rev (`refs/remotes/origin/main`, `refs/tags/v2`, a sha) → sha */
  refs: Record<string, string>;
  /** What the health URL answers while a sha is checked out. */
  healthy: (sha: string) => boolean;
  /** Regex over the command line that makes a command fail. */
  failOn?: RegExp;
  /** Lines of the failing command's stderr. */
  failOutput?: string;
  subjects: Record<string, string>;
}

export function fakeRepo(overrides: Partial<FakeRepoState> = {}) {
  const state: FakeRepoState = {
    head: SHA.v1,
    refs: {
      "refs/remotes/origin/main": SHA.v2,
      "refs/tags/v1": SHA.v1,
      "refs/tags/v2": SHA.v2,
      "refs/tags/broken": SHA.broken,
      [SHA.v1]: SHA.v1,
      [SHA.v2]: SHA.v2,
      [SHA.broken]: SHA.broken,
    },
    healthy: (sha) => sha !== SHA.broken,
    subjects: { [SHA.v1]: "v1: first", [SHA.v2]: "v2: second", [SHA.broken]: "broken: health fails" },
    ...overrides,
  };
  const shell = new FakeShell((cmd): Partial<ExecResult> => {
    const line = typeof cmd === "string" ? cmd : cmd.join(" ");
    if (state.failOn?.test(line)) return { code: 1, stderr: state.failOutput ?? "boom\n" };
    if (typeof cmd === "string") return { code: 0, stdout: "" };
    const argv = cmd;
    if (argv[0] === "git") {
      const sub = argv.includes("rev-parse") ? "rev-parse" : argv.includes("checkout") ? "checkout" : argv.includes("fetch") ? "fetch" : argv.includes("log") ? "log" : argv.includes("describe") ? "describe" : "other";
      switch (sub) {
        case "fetch":
          return { code: 0 };
        case "rev-parse": {
          const rev = argv[argv.length - 1]!.replace(/\^\{commit\}$/, "");
          const sha = state.refs[rev] ?? Object.values(state.refs).find((s) => /^[0-9a-f]{7,40}$/.test(rev) && s.startsWith(rev));
          return sha ? { code: 0, stdout: `${sha}\n` } : { code: 1 };
        }
        case "checkout": {
          state.head = argv[argv.indexOf("--force") + 1]!;
          return { code: 0 };
        }
        case "log": {
          if (argv.includes("-1")) return { code: 0, stdout: `${state.head}\t${state.head.slice(0, 7)}\t${state.subjects[state.head] ?? ""}\n` };
          const range = argv[argv.length - 1]!;
          const [from, to] = range.split("..");
          const order = [SHA.v1, SHA.v2, SHA.broken];
          const a = order.indexOf(from!);
          const b = order.indexOf(to!);
          const between = b > a ? order.slice(a + 1, b + 1).reverse() : [];
          return { code: 0, stdout: between.map((s) => `${s.slice(0, 7)}\t${state.subjects[s]}`).join("\n") };
        }
        case "describe":
          return { code: 128, stderr: "fatal: no tag exactly matches\n" };
        default:
          return { code: 0 };
      }
    }
    if (argv[0] === "wget") return state.healthy(state.head) ? { code: 0, stderr: "  HTTP/1.1 200 OK\n" } : { code: 8, stderr: "  HTTP/1.1 500 Internal Server Error\n" };
    return { code: 0 };
  });
  return { state, shell };
}
