import { describe, expect, it } from "vitest";
import { StepFailedError } from "../../src/operations/errors.js";
import { Steps, type StepRecord } from "../../src/operations/steps.js";
import { FakeShell, JumpClock } from "./operations-fakes.js";

function steps(shell: FakeShell) {
  const ended: StepRecord[] = [];
  let changes = 0;
  const s = new Steps({ shell, cwd: "/srv/app", clock: new JumpClock(), onChange: () => changes++, onStepEnd: async (r) => void ended.push(r) });
  return { s, ended, changes: () => changes };
}

describe("Steps", () => {
  it("shows declared steps as pending, runs each with its summary, and records how it ended", async () => {
    const shell = new FakeShell(() => ({ code: 0, stdout: "ok\n" }));
    const { s, ended, changes } = steps(shell);
    s.declare([{ id: "a", title: "first" }, { id: "b", title: "second" }, { id: "c", title: "third" }]);
    expect(s.views.map((v) => v.state)).toEqual(["pending", "pending", "pending"]);
    const value = await s.run("a", "first", async (io) => {
      await io.exec(["git", "status"]);
      return { summary: "first done", value: 42 };
    });
    expect(value).toBe(42);
    s.skip("c");
    expect(s.views.map((v) => [v.state, v.summary])).toEqual([["done", "first done"], ["pending", undefined], ["skipped", undefined]]);
    expect(ended).toEqual([expect.objectContaining({ id: "a", ok: true, summary: "first done" })]);
    expect(shell.calls[0]).toMatchObject({ cwd: "/srv/app" });
    expect(changes()).toBeGreaterThanOrEqual(4);
  });

  it("a failing command fails the step, keeps everything it printed, and rethrows", async () => {
    const shell = new FakeShell(() => ({ code: 2, stdout: "building…\n", stderr: "error: no space left\n" }));
    const { s, ended } = steps(shell);
    const err = await s.run("build", "build", async (io) => {
      await io.exec(["docker-compose", "build"]);
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepFailedError);
    expect((err as Error).message).toBe("docker-compose build exited 2");
    expect(s.failure).toMatchObject({ id: "build", title: "build" });
    expect(s.failure!.output).toBe("$ docker-compose build\nbuilding…\nerror: no space left\n[exit 2]\n");
    expect(ended).toEqual([expect.objectContaining({ id: "build", ok: false, error: "docker-compose build exited 2" })]);
  });

  it("an operator line shows its label, never the line itself (it may carry credentials)", async () => {
    const shell = new FakeShell(() => ({ code: 0 }));
    const { s } = steps(shell);
    await s.run("migrate", "migrate", async (io) => {
      await io.execTrusted("PGPASSWORD=hunter2 npm run migrate", "deploy.steps.migrate");
      return { summary: io.output };
    });
    expect(s.views[0]!.summary).toBe("$ (deploy.steps.migrate from opsgram.yml)\n");
  });
});
