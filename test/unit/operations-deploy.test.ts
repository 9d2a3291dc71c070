import { describe, expect, it } from "vitest";
import { createOperations } from "../../src/operations/index.js";
import { JumpClock, alice, bob, makeDeps, opsConfig, chatOf } from "./operations-fakes.js";
import { SHA, fakeRepo, type FakeRepoState } from "./operations-fake-repo.js";

function setup(target: Record<string, unknown> = {}, repo: Partial<FakeRepoState> = {}) {
  const { shell, state } = fakeRepo(repo);
  const config = opsConfig({
    deploy: {
      healthcheck: { url: "http://127.0.0.1:8080/health", timeoutSeconds: 5, intervalSeconds: 1 },
      steps: [{ name: "migrate", run: "docker-compose run --rm web migrate" }],
      ...((target.deploy as object | undefined) ?? {}),
    },
    ...Object.fromEntries(Object.entries(target).filter(([k]) => k !== "deploy")),
  });
  const env = makeDeps({ shell, config, clock: new JumpClock() });
  return { ...env, ops: createOperations(env.deps), state };
}

async function deploy(env: ReturnType<typeof setup>, ref: string) {
  const planned = await chatOf(env.ops).deploy(alice, [ref]);
  if (planned.status !== "planned") throw new Error(`not planned: ${JSON.stringify(planned)}`);
  env.shell.calls.length = 0;
  const pressed = await env.ops.service.confirm(bob, planned.operationId, planned.message);
  if (pressed.status !== "confirmed") throw new Error(`not confirmed: ${JSON.stringify(pressed)}`);
  const final = await pressed.done;
  return { planned, final };
}

describe("deploy", () => {
  it("runs checkout → build → operator steps → up → health, records the deployment and ends ✅", async () => {
    const env = setup();
    const { planned, final } = await deploy(env, "main");
    expect(final.status).toBe("succeeded");
    expect(env.state.head).toBe(SHA.v2);
    const mutating = env.shell.lines.filter((l) => !/^git (rev-parse|log)|^wget/.test(l));
    expect(mutating).toEqual([
      `git -c advice.detachedHead=false checkout --detach --force ${SHA.v2} --`,
      "docker-compose -p app build",
      "TRUSTED docker-compose run --rm web migrate",
      "docker-compose -p app up -d",
    ]);
    expect(env.shell.calls.filter((c) => c.argv?.[0] !== "wget").every((c) => c.cwd === "/srv/app")).toBe(true);
    expect(env.repos.deployments.rows).toEqual([
      expect.objectContaining({ target: "prod", kind: "deploy", ref: "main", sha: SHA.v2, previousSha: SHA.v1, status: "succeeded", requestedByName: "alice" }),
    ]);
    const text = env.notifier.last(planned.message!.messageId);
    expect(text).toMatch(/✓ fetched · ✓ checkout 2222222 · ✓ built · ✓ migrate · ✓ up · ✓ healthy in [\d.]+ s/);
    expect(text).toMatch(/✅ deployed <code>2222222<\/code> \(main\) in/);
    expect(text).toContain("confirmed by @bob");
    // Every transition and step is audited, started before the first remote command.
    const outcomes = env.audit.outcomes(planned.operationId);
    expect(outcomes.slice(0, 4)).toEqual(["requested", "info", "confirmed", "started"]);
    expect(outcomes.at(-1)).toBe("succeeded");
    const steps = env.audit.events.filter((e) => e.action === "deploy.step").map((e) => (e.detail as { step: { id: string } }).step.id);
    expect(steps).toEqual(["fetch", "checkout", "build", "step-migrate", "up", "health"]);
    const stored = await env.repos.operations.get(planned.operationId);
    expect((stored?.result as { steps?: { id: string }[] }).steps?.map((st) => st.id)).toEqual(steps);
    expect(await env.repos.locks.get("prod")).toBeNull();
  });

  it("a version that never becomes healthy is rolled back to the previous sha automatically", async () => {
    const env = setup();
    const { planned, final } = await deploy(env, "broken");
    expect(final.status).toBe("rolled_back");
    expect(env.state.head).toBe(SHA.v1);
    const checkouts = env.shell.lines.filter((l) => l.includes("checkout"));
    expect(checkouts).toEqual([
      `git -c advice.detachedHead=false checkout --detach --force ${SHA.broken} --`,
      `git -c advice.detachedHead=false checkout --detach --force ${SHA.v1} --`,
    ]);
    expect(env.repos.deployments.rows[0]?.status).toBe("rolled_back");
    const text = env.notifier.last(planned.message!.messageId);
    expect(text).toContain("↩ rolled back to <code>1111111</code>");
    expect(text).toContain("HTTP 500");
    // The failing step's tail is in the message, the whole output in a document.
    expect(text).toContain("<pre>");
    expect(env.notifier.documents).toHaveLength(1);
    expect(env.notifier.documents[0]!.content).toMatch(/attempt 1: HTTP 500/);
    expect(env.audit.outcomes(planned.operationId).at(-1)).toBe("rolled_back");
  });

  it("a build failure restores the checkout, leaves containers alone and reports the failing step", async () => {
    const env = setup({}, { failOn: /compose -p app build/, failOutput: "Step 3/5 : RUN make\nmake: *** [all] Error 2\n" });
    const { planned, final } = await deploy(env, "main");
    expect(final.status).toBe("failed");
    expect(env.state.head).toBe(SHA.v1);
    expect(env.shell.lines.some((l) => l.includes(" up -d"))).toBe(false);
    const text = env.notifier.last(planned.message!.messageId);
    expect(text).toContain("✗ build");
    expect(text).toContain("failed at build");
    expect(text).toContain("make: *** [all] Error 2");
    expect(env.notifier.documents[0]?.filename).toMatch(/-build\.log$/);
    expect(final.error).toContain("build");
    expect(env.repos.deployments.rows[0]?.status).toBe("failed");
  });

  it("with autoRollback off, an unhealthy deploy fails and stays", async () => {
    const env = setup({ deploy: { autoRollback: false } });
    const { final } = await deploy(env, "broken");
    expect(final.status).toBe("failed");
    expect(env.state.head).toBe(SHA.broken);
  });

  it("backs up first when configured, into the backup dir, before touching the checkout", async () => {
    const env = setup({ deploy: { backupFirst: true }, backup: { command: "pg_dump -Fc app", dir: "/var/backups/app", keep: 2 } });
    env.shell.calls.length = 0;
    const { final } = await deploy(env, "main");
    expect(final.status).toBe("succeeded");
    const lines = env.shell.lines;
    const dump = lines.findIndex((l) => l.startsWith("TRUSTED") && l.includes("{ pg_dump -Fc app"));
    const checkout = lines.findIndex((l) => l.includes("checkout"));
    expect(dump).toBeGreaterThan(-1);
    expect(dump).toBeLessThan(checkout);
    expect(lines[dump]).toMatch(/\{ pg_dump -Fc app\n\} > \/var\/backups\/app\/prod-20261122T\d{6}Z\.dump\.partial/);
    expect(env.repos.backups.rows).toHaveLength(1);
    // Recorded as taken before this deployment: what /rollback offers to restore.
    expect(env.repos.backups.rows[0]?.deploymentId).toBe(env.repos.deployments.rows[0]?.id);
  });

  it("refuses refs that are not allowed or not git refs, before anything runs", async () => {
    const env = setup({ deploy: { allowedRefs: "^(main|v\\d+)$" } });
    for (const ref of ["release/x", "-x", "main..v1", "main;id"]) {
      const r = await chatOf(env.ops).deploy(alice, [ref]);
      expect(r.status).toBe("refused");
    }
    expect(env.shell.calls).toHaveLength(0);
    expect(env.repos.operations.rows.size).toBe(0);
    expect(env.audit.events.map((e) => e.outcome)).toEqual(["denied", "denied", "denied", "denied"]);
  });
});

describe("expected changes", () => {
  it("a deploy tells the health monitors to expect container changes while it runs, and ends that after", async () => {
    const env = setup();
    const calls: { target: string; services: readonly string[]; ended: boolean }[] = [];
    const ops = createOperations({
      ...env.deps,
      expected: {
        expect(target, services) {
          const entry = { target, services, ended: false, shellCallsAtStart: env.shell.calls.length };
          calls.push(entry);
          return { end: () => void (entry.ended = true) };
        },
      },
    });
    const planned = await chatOf(ops).deploy(alice, ["main"]);
    if (planned.status !== "planned") throw new Error("not planned");
    const pressed = await ops.service.confirm(bob, planned.operationId, planned.message);
    if (pressed.status !== "confirmed") throw new Error("not confirmed");
    expect(calls).toEqual([expect.objectContaining({ target: "prod", services: [] })]);
    expect((await pressed.done).status).toBe("succeeded");
    expect(calls[0]!.ended).toBe(true);
  });

  it("a backup changes no containers and expects nothing", async () => {
    const env = setup({ backup: { command: "pg_dump -Fc app", dir: "/var/backups/app" } });
    let expected = 0;
    const ops = createOperations({ ...env.deps, expected: { expect: () => (expected++, { end() {} }) } });
    await chatOf(ops).backup(alice, []);
    expect(expected).toBe(0);
  });
});

describe("when the database fails at the very end", () => {
  it("the lock is still released and the chat still gets the final line", async () => {
    const env = setup();
    const repo = env.repos.operations;
    const transition = repo.transition.bind(repo);
    repo.transition = async (id, from, to, patch) => {
      if (to === "succeeded") throw new Error("connection terminated");
      return transition(id, from, to, patch);
    };
    const { planned, final } = await deploy(env, "main");
    expect(final.status).toBe("running"); // left for restart recovery to mark interrupted
    expect(await env.repos.locks.get("prod")).toBeNull();
    expect(env.notifier.last(planned.message!.messageId)).toMatch(/✅ deployed/);
  });
});

describe("rollback", () => {
  it("with no argument undoes the last successful deployment, and says the database is not restored", async () => {
    const env = setup();
    await deploy(env, "main");
    const planned = await chatOf(env.ops).rollback(alice, []);
    expect(planned.status).toBe("planned");
    if (planned.status !== "planned") return;
    const plan = env.notifier.messages.at(-1)!.texts[0]!;
    expect(plan).toContain("The database is NOT restored");
    expect(plan).toContain("undoes deployment #1");
    const pressed = await env.ops.service.confirm(bob, planned.operationId, planned.message);
    if (pressed.status !== "confirmed") throw new Error("not confirmed");
    expect((await pressed.done).status).toBe("succeeded");
    expect(env.state.head).toBe(SHA.v1);
    expect(env.repos.deployments.rows.at(-1)).toMatchObject({ kind: "rollback", sha: SHA.v1, previousSha: SHA.v2, status: "succeeded" });
  });

  it("refuses when nothing was deployed, a bad argument, or the commit already live", async () => {
    const env = setup();
    expect(await chatOf(env.ops).rollback(alice, [])).toMatchObject({ status: "refused" });
    expect(await chatOf(env.ops).rollback(alice, ["$(id)"])).toMatchObject({ status: "refused" });
    expect(await chatOf(env.ops).rollback(alice, [SHA.v1.slice(0, 9)])).toMatchObject({ status: "refused", reason: expect.stringContaining("already live") });
    const planned = await chatOf(env.ops).rollback(alice, [SHA.v2.slice(0, 9), "prod"]);
    expect(planned.status).toBe("planned");
  });
});
