import { describe, expect, it } from "vitest";
import { createOperations } from "../../src/operations/index.js";
import { FakeDocker, FakeShell, JumpClock, container, alice, bob, chatOf, makeDeps, opsConfig } from "./operations-fakes.js";

/** A target where every backup script verifies; `restoreFails` makes `( restore ) < file` fail. */
function setup(options: { restoreFails?: boolean; drillFails?: boolean; fourEyes?: boolean } = {}) {
  const shell = new FakeShell((cmd) => {
    if (typeof cmd !== "string") return { code: 0 };
    if (cmd.includes("RESTORE_CMD")) return options.restoreFails ? { code: 1, stderr: "pg_restore: error: could not execute query\n" } : { code: 0 };
    if (cmd.includes("DRILL_CMD")) return options.drillFails ? { code: 1, stderr: "pg_restore: error: input file is too short\n" } : { code: 0 };
    return { code: 0, stdout: "opsgram-verified: pg_restore read 3 entries\nopsgram-size: 2048\n" };
  });
  const clock = new JumpClock();
  const docker = new FakeDocker();
  docker.containers = [container("api", 1), container("worker", 1)];
  const env = makeDeps({
    shell,
    docker,
    clock,
    config: opsConfig(
      { services: { api: { min: 1, max: 2 }, worker: { min: 1, max: 3 } }, backup: { command: "pg_dump -Fc", dir: "/b", restore: "RESTORE_CMD", drill: "DRILL_CMD", stopServices: ["api", "worker"] } },
      options.fourEyes ? { fourEyes: ["restore"] } : {},
    ),
  });
  const ops = createOperations(env.deps);
  return { env, ops, shell, clock };
}

async function takeBackup(ops: ReturnType<typeof setup>["ops"], clock: JumpClock) {
  const started = await chatOf(ops).backup(alice, []);
  if (started.status !== "started") throw new Error(JSON.stringify(started));
  await started.done;
  clock.t += 60_000;
}

describe("/restore (operations)", () => {
  it("offers recent backups, previews the plan, and runs check → safety → stop → restore → start → health on the typed name", async () => {
    const { env, ops, shell, clock } = setup();
    await takeBackup(ops, clock);
    const choices = await ops.restore.choices(alice, { target: "prod", input: [] });
    if (choices.status !== "choices") throw new Error(JSON.stringify(choices));
    const pick = choices.backups[0]!;
    const preview = await ops.restore.preview(alice, { target: "prod", input: [], backupId: pick.id });
    expect(preview).toMatchObject({ status: "preview", data: { path: pick.path, stopServices: ["api", "worker"], verified: true } });
    shell.calls.length = 0;
    const started = await ops.restore.request(alice, { target: "prod", input: [], backupId: pick.id, typed: " prod " });
    if (started.status !== "started") throw new Error(JSON.stringify(started));
    const final = await started.done;
    expect(final.status).toBe("succeeded");
    const lines = shell.lines;
    const at = (needle: string) => lines.findIndex((l) => l.includes(needle));
    expect(at("stop api worker")).toBeGreaterThan(at("pg_dump -Fc"));
    expect(at("RESTORE_CMD")).toBeGreaterThan(at("stop api worker"));
    expect(at("up -d --no-deps api worker")).toBeGreaterThan(at("RESTORE_CMD"));
    expect(lines[at("RESTORE_CMD")]).toContain(`< ${pick.path}`);
    const text = env.notifier.messages.at(-1)!.texts.at(-1)!;
    expect(text).toMatch(new RegExp(`✅ restored <code>${pick.path}</code> in .* · safety backup <code>/b/prod-\\d{8}T\\d{6}Z\\.dump</code>`));
    expect(env.repos.backups.rows).toHaveLength(2);
    const steps = env.audit.events.filter((e) => e.action === "restore").map((e) => e.outcome);
    expect(steps).toContain("started");
    expect(steps.at(-1)).toBe("succeeded");
  });

  it("a mistyped name runs nothing and is audited", async () => {
    const { env, ops, shell, clock } = setup();
    await takeBackup(ops, clock);
    const pick = (await env.repos.backups.recent("prod", 1))[0]!;
    shell.calls.length = 0;
    const r = await ops.restore.request(alice, { target: "prod", input: [], backupId: pick.id, typed: "prdo" });
    expect(r).toMatchObject({ status: "refused", reason: expect.stringContaining("nothing ran") });
    expect(shell.calls).toHaveLength(0);
    expect(env.audit.events.at(-1)).toMatchObject({ action: "restore", outcome: "denied" });
  });

  it("a failed restore starts the services again and ends with how to get back", async () => {
    const { env, ops, shell, clock } = setup({ restoreFails: true });
    await takeBackup(ops, clock);
    const pick = (await env.repos.backups.recent("prod", 1))[0]!;
    const started = await ops.restore.request(alice, { target: "prod", input: [], backupId: pick.id, typed: "prod" });
    if (started.status !== "started") throw new Error(JSON.stringify(started));
    expect((await started.done).status).toBe("failed");
    expect(shell.lines.some((l) => l.includes("up -d --no-deps api worker"))).toBe(true);
    const text = env.notifier.messages.at(-1)!.texts.at(-1)!;
    expect(text.split("\n").at(-1)).toMatch(/^\/restore → pick <code>prod-\d{8}T\d{6}Z\.dump<\/code>/);
  });

  it("with fourEyes for restore, the typed name leads to a plan someone else confirms", async () => {
    const { env, ops, clock } = setup({ fourEyes: true });
    await takeBackup(ops, clock);
    const pick = (await env.repos.backups.recent("prod", 1))[0]!;
    const planned = await ops.restore.request(alice, { target: "prod", input: [], backupId: pick.id, typed: "prod" });
    if (planned.status !== "planned") throw new Error(JSON.stringify(planned));
    expect(await ops.service.confirm(alice, planned.operationId, planned.message)).toMatchObject({ status: "refused" });
    const pressed = await ops.service.confirm(bob, planned.operationId, planned.message);
    if (pressed.status !== "confirmed") throw new Error(JSON.stringify(pressed));
    expect((await pressed.done).status).toBe("succeeded");
    void env;
  });

  it("refuses a target without backup.restore, and a pruned or foreign backup", async () => {
    const bare = createOperations(makeDeps({ config: opsConfig({ backup: { command: "x", dir: "/b" } }) }).deps);
    expect(await bare.restore.choices(alice, { target: "prod", input: [] })).toMatchObject({ status: "refused", reason: expect.stringContaining("backup.restore") });
    const { ops } = setup();
    expect(await ops.restore.preview(alice, { target: "prod", input: [], backupId: 99 })).toMatchObject({ status: "refused", reason: "There is no backup #99 of prod." });
  });
});

describe("/backup drill (operations)", () => {
  it("restores the latest backup into scratch and records it; /backups marks it drilled", async () => {
    const { env, ops, clock } = setup();
    await takeBackup(ops, clock);
    const started = await ops.restore.drill(alice, { target: "prod", input: [] });
    if (started.status !== "started") throw new Error(JSON.stringify(started));
    expect((await started.done).status).toBe("succeeded");
    expect(env.repos.backups.drills).toMatchObject([{ ok: true, backupId: 1 }]);
    const list = await chatOf(ops).backups(alice, []);
    expect(list.status === "ok" && list.text).toMatch(/🧪 drilled/);
  });

  it("a failed drill is recorded as failed and says the backup may not restore", async () => {
    const { env, ops, clock } = setup({ drillFails: true });
    await takeBackup(ops, clock);
    const started = await ops.restore.drill(alice, { target: "prod", input: [] });
    if (started.status !== "started") throw new Error(JSON.stringify(started));
    expect((await started.done).status).toBe("failed");
    expect(env.repos.backups.drills).toMatchObject([{ ok: false }]);
    expect(env.notifier.messages.at(-1)!.texts.at(-1)).toMatch(/FAILED.*may not restore/);
  });
});
