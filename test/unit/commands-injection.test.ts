import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { remoteCommandLine } from "../../src/commands/exec-line.js";
import { toCommandLine } from "../../src/commands/quote.js";
import { INJECTION_PAYLOADS } from "../support/injection-corpus.js";

// Payloads forced through quoting, bypassing validation (Dokploy's docker-build-injection test):
// the shell must hand each one back as a single, byte-identical argument and run nothing else.
// `printf %s` rather than `echo`: dash's echo interprets backslashes and `-n`, so it could not
// prove byte identity. Each shell runs all payload lines in one script (one process per shell keeps
// the test fast on a busy 2-core box); the NUL separator lets each payload be checked on its own.

const representable = INJECTION_PAYLOADS.filter((p) => !p.value.includes("\0"));
const SHELLS = ["/bin/sh", "/bin/bash"] as const;

let dir: string;
let work: string;
const plain = new Map<string, string[]>();
const wrapped = new Map<string, string[]>();
const leftovers = new Map<string, string[]>();

function runScript(shell: string, lines: string[]): string[] {
  const script = lines.map((line) => `${line}\nprintf '\\000'\n`).join("");
  const result = spawnSync(shell, ["-c", script], {
    cwd: dir,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    maxBuffer: 64 * 1024 * 1024,
  });
  return result.stdout.split("\0").slice(0, lines.length);
}

function createdFiles(): string[] {
  return readdirSync(dir).filter((f) => f !== "work").concat(readdirSync(work));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "opsgram-injection-"));
  work = join(dir, "work");
  mkdirSync(work);
  for (const shell of SHELLS) {
    plain.set(shell, runScript(shell, representable.map((p) => toCommandLine(["printf", "%s", p.value]))));
    leftovers.set(`${shell} plain`, createdFiles());
    wrapped.set(
      shell,
      runScript(
        shell,
        // In a subshell: the remote line starts with `exec`, which would end the script.
        representable.map((p) => {
          const line = remoteCommandLine(`${toCommandLine(["printf", "%s|%s", p.value])} "$OPSGRAM_X"`, {
            cwd: work,
            env: { OPSGRAM_X: p.value },
            timeoutSeconds: 10,
          });
          return `(\n${line}\n)`;
        }),
      ),
    );
    leftovers.set(`${shell} wrapped`, createdFiles());
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(SHELLS)("under %s", (shell) => {
  it("no payload created any file", () => {
    expect(leftovers.get(`${shell} plain`)).toEqual([]);
    expect(leftovers.get(`${shell} wrapped`)).toEqual([]);
  });

  it.each(representable.map((p, i) => [p.name, i] as const))("%s comes back byte-identical as one argument", (_name, i) => {
    expect(plain.get(shell)?.[i]).toBe(representable[i]?.value);
  });

  it.each(representable.map((p, i) => [p.name, i] as const))(
    "%s survives the full remote wrapping (timeout, env, cd) intact",
    (_name, i) => {
      const value = representable[i]?.value;
      expect(wrapped.get(shell)?.[i]).toBe(`${value}|${value}`);
    },
  );
});

it("refuses NUL instead of truncating the argument", () => {
  expect(() => toCommandLine(["printf", "%s", "main\0; touch MARK"])).toThrow(TypeError);
});
