import { describe, expect, it } from "vitest";
import type { RunContext } from "../../src/operations/context.js";
import { PassFailedError, releasePass, runPass } from "../../src/operations/release.js";
import { Steps } from "../../src/operations/steps.js";
import { plainText } from "../../src/shared/rich-text.js";
import { FakeShell, JumpClock, alice, makeDeps, opsConfig } from "./operations-fakes.js";

const withSteps = opsConfig({ deploy: { steps: [{ name: "migrate", run: "npm run migrate" }] } });

function context(shell = new FakeShell()): RunContext {
  const env = makeDeps({ shell, config: withSteps, clock: new JumpClock() });
  const target = { name: "prod", config: env.config.targets.prod!, ports: env.deps.targets.prod! };
  const steps = new Steps({ shell, cwd: "/srv/app", clock: env.clock, onChange: () => {}, onStepEnd: async () => {} });
  return {
    op: {} as RunContext["op"],
    plan: { title: "t", lockReason: "r", data: {} },
    target,
    confirmedBy: alice,
    steps,
    deps: env.deps,
    signal: new AbortController().signal,
    note: () => {},
    audit: async () => {},
  };
}

describe("release passes as data", () => {
  it("a forward pass lists checkout, build, the operator steps, up and health; a rollback pass is marked ↩ and skips operator steps", () => {
    const ctx = context();
    const forward = releasePass(ctx, "forward", "a".repeat(40), { operatorSteps: true });
    expect(forward.map((s) => [s.id, s.title, s.touchesContainers])).toEqual([
      ["checkout", "checkout", false],
      ["build", "build", false],
      ["step-migrate", "migrate", false],
      ["up", "up", true],
      ["health", "health", true],
    ]);
    const back = releasePass(ctx, "rollback", "b".repeat(40), { operatorSteps: false });
    expect(back.map((s) => s.title)).toEqual(["↩ checkout", "↩ build", "↩ up", "↩ health"]);
    // Distinct ids, so both passes can be on one progress line.
    expect(new Set([...forward, ...back].map((s) => s.id)).size).toBe(forward.length + back.length);
  });

  it("a failure names its step and whether the running containers were already touched", async () => {
    const failAt = (word: string) => new FakeShell((cmd) => ({ code: Array.isArray(cmd) && cmd.includes(word) ? 1 : 0 }));
    const early = context(failAt("build"));
    const err1 = await runPass(early, releasePass(early, "forward", "a".repeat(40), { operatorSteps: false })).catch((e: unknown) => e);
    expect(err1).toBeInstanceOf(PassFailedError);
    expect(err1).toMatchObject({ step: "build", touchedContainers: false });

    const late = context(failAt("up"));
    const err2 = await runPass(late, releasePass(late, "rollback", "a".repeat(40), { operatorSteps: false })).catch((e: unknown) => e);
    expect(err2).toMatchObject({ step: "up", touchedContainers: true });
    expect(plainText(["x ", { code: "abc" }])).toBe("x abc");
  });
});
