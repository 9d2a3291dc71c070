import { describe, expect, it } from "vitest";
import { targetLockFile, wrapArgv } from "../../src/commands/exec-line.js";
import { createOperations } from "../../src/operations/index.js";
import { LinkLostError, type AuditEventInput, type ExecOptions } from "../../src/shared/ports.js";
import { JumpClock, alice, bob, chatOf, flush, makeDeps, opsConfig } from "./operations-fakes.js";
import { SHA, fakeRepo } from "./operations-fake-repo.js";

/**
 * The lease and what a lost or broken run leaves behind: a run that lost its lock stops before its
 * next step; a link lost during `up` or a failed rollback leaves the target frozen, with one message
 * saying what is live and an [Unlock] that needs a Confirm.
 */
/**
 * A jumping clock whose long waits (the 20 s re-read deadline) yield to pending work first, so a
 * fake target that answers at once is not beaten by its own timeout.
 */
class PatientClock extends JumpClock {
  override async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms >= 10_000) await flush();
    return super.sleep(ms, signal);
  }
}

function setup(onExec: (argv: readonly string[], env: { clock: JumpClock }) => void = () => {}) {
  const { shell, state } = fakeRepo();
  const config = opsConfig({ deploy: { healthcheck: { url: "http://127.0.0.1:8080/health", timeoutSeconds: 3, intervalSeconds: 1 } } });
  const clock = new PatientClock();
  const env = makeDeps({ shell, config, clock });
  const lockFiles: (string | undefined)[] = [];
  const exec = shell.exec.bind(shell);
  shell.exec = async (argv: readonly string[], options: ExecOptions) => {
    lockFiles.push(options.lockFile);
    onExec(argv, { clock });
    return exec(argv, options);
  };
  return { ...env, clock, state, lockFiles, ops: createOperations(env.deps) };
}

async function deploy(env: ReturnType<typeof setup>, ref: string) {
  const planned = await chatOf(env.ops).deploy(alice, [ref]);
  if (planned.status !== "planned") throw new Error(`not planned: ${JSON.stringify(planned)}`);
  env.shell.calls.length = 0;
  env.lockFiles.length = 0;
  const pressed = await env.ops.service.confirm(bob, planned.operationId, planned.message);
  if (pressed.status !== "confirmed") throw new Error(`not confirmed: ${JSON.stringify(pressed)}`);
  return { planned, final: await pressed.done };
}

/** The [Unlock] button's data in the newest message that has one. */
function unlockData(env: ReturnType<typeof setup>): string {
  const withButton = [...env.notifier.messages].reverse().find((m) => m.options.some((o) => o?.buttons?.[0]?.[0]?.data.startsWith("fz:u:")));
  const data = withButton?.options.find((o) => o?.buttons?.[0]?.[0]?.data.startsWith("fz:u:"))?.buttons?.[0]?.[0]?.data;
  if (!data) throw new Error("no [Unlock] button was sent");
  return data;
}

describe("the lease", () => {
  it("every remote command of a locked run holds flock on the target's lock file; planning does not", async () => {
    const env = setup();
    const { final } = await deploy(env, "main");
    expect(final.status).toBe("succeeded");
    expect(env.lockFiles.length).toBeGreaterThan(4);
    expect(new Set(env.lockFiles)).toEqual(new Set([targetLockFile("/srv/app")]));
    expect(targetLockFile("/srv/app")).toBe("/tmp/opsgram-srv_app.lock");
    expect(wrapArgv("up", { timeoutSeconds: 9, lockFile: "/tmp/opsgram-srv_app.lock", cwd: "/srv/app" })).toEqual([
      "timeout", "-s", "TERM", "-k", "5", "9", "flock", "/tmp/opsgram-srv_app.lock", "sh", "-c", 'cd -- "$1" && exec sh -c "$2"', "sh", "/srv/app", "up",
    ]);
  });

  it("a run whose heartbeat went stale by the database's clock stops before its next step, and the target stays frozen", async () => {
    // The build takes longer than the stale time without a heartbeat (a suspended VM, a database outage).
    const env = setup((argv, { clock }) => {
      if (argv.includes("build")) clock.t += 130_000;
    });
    const { planned, final } = await deploy(env, "main");
    expect(final.status).toBe("failed");
    expect(final.error, final.error ?? "").toMatch(/lost the lock on prod: its heartbeat went stale \(13\d s by the database's clock, limit 120 s\)/);
    expect(env.shell.lines.some((l) => l.includes("up -d"))).toBe(false);
    // No rollback either: nothing more may run without the lease.
    expect(env.shell.lines.filter((l) => l.includes("checkout"))).toHaveLength(1);
    expect(await env.repos.locks.get("prod")).toMatchObject({ kind: "freeze", reason: expect.stringContaining("heartbeat went stale") });
    expect(env.notifier.last(planned.message!.messageId)).toMatch(/❌ stopped before its next step: lost the lock on prod/);
    expect(env.audit.events.at(-1)).toMatchObject({ outcome: "failed", detail: expect.objectContaining({ frozen: expect.objectContaining({ version: 2 }) }) });
  });

  it("a second deploy is refused while the first one's heartbeat is fresh, even when the first row says interrupted", async () => {
    const env = setup();
    await env.repos.locks.insertIfFree({ target: "prod", kind: "operation", operationId: "op-elsewhere", holderUserId: 1, holderName: "alice", reason: "deploy v1" });
    const refused = await chatOf(env.ops).deploy(bob, ["main"]);
    expect(refused).toMatchObject({ status: "refused", reason: expect.stringContaining("prod is busy: @alice is running deploy v1") });
    expect(await chatOf(env.ops).unlock(bob, [])).toMatchObject({ status: "refused" });
    env.clock.t += 121_000;
    expect(await chatOf(env.ops).unlock(bob, [])).toMatchObject({ status: "ok", text: expect.stringContaining("unlocked") });
  });
});

describe("frozen after a broken run", () => {
  it("the link drops during up: no rollback starts a second up, the target is frozen; [Unlock] + Confirm lift it, audited", async () => {
    let ups = 0;
    const env = setup((argv) => {
      if (argv.includes("up") && ++ups > 0) throw new LinkLostError("SSH connection to prod was lost while a command was running; its outcome is unknown");
    });
    const { final } = await deploy(env, "main");
    expect(final.status).toBe("failed");
    expect(ups).toBe(1);
    expect(env.shell.lines.filter((l) => l.includes("checkout"))).toHaveLength(1);
    const frozen = await env.repos.locks.get("prod");
    expect(frozen).toMatchObject({ kind: "freeze", reason: expect.stringContaining("connection lost during up") });

    const message = env.notifier.messages.at(-1)!.texts.at(-1)!;
    expect(message).toMatch(/🧊 <b>prod is frozen<\/b>: connection lost during up of 2222222[\s\S]*prod now: <code>2222222<\/code> checked out[\s\S]*Was running: 🚀 Deploy main → prod/);
    expect(await chatOf(env.ops).deploy(alice, ["main"])).toMatchObject({ status: "refused", reason: expect.stringContaining("frozen") });

    const chat = chatOf(env.ops);
    const data = unlockData(env);
    const ask = await chat.pressUnlock(bob, data);
    expect(ask).toMatchObject({ status: "ask", buttons: [[{ text: "✅ Confirm unlock" }, { text: "✖ Keep frozen" }]] });
    expect(await env.repos.locks.get("prod")).not.toBeNull();
    const confirm = ask.status === "ask" ? ask.buttons[0]![0]!.data : "";
    expect(await chat.pressUnlock(bob, confirm)).toMatchObject({ status: "done", text: "🔓 prod is unlocked by @bob." });
    expect(await env.repos.locks.get("prod")).toBeNull();
    const unlocks = env.audit.events.filter((e) => e.action === "unlock");
    expect(unlocks.map((e) => e.outcome)).toEqual(["requested", "succeeded"]);
    expect(unlocks[1]).toMatchObject({ username: "bob", args: { version: frozen!.version } });
  });

  it("an [Unlock] of an older freeze does not lift a newer one", async () => {
    const env = setup((argv) => {
      if (argv.includes("up")) throw new LinkLostError("lost");
    });
    await deploy(env, "main");
    const data = unlockData(env);
    const ask = await chatOf(env.ops).pressUnlock(bob, data);
    await chatOf(env.ops).unlock(bob, []);
    await chatOf(env.ops).lock(alice, ["incident"]);
    const confirm = ask.status === "ask" ? ask.buttons[0]![0]!.data : "";
    expect(await chatOf(env.ops).pressUnlock(bob, confirm)).toMatchObject({ status: "refused", text: expect.stringContaining("frozen again") });
    expect(await env.repos.locks.get("prod")).toMatchObject({ kind: "freeze", reason: "incident" });
  });

  it("a failed rollback freezes the target and says a human is needed", async () => {
    let builds = 0;
    const env = setup((argv) => {
      if (argv.includes("build") && ++builds === 2) throw new Error("no space left on device");
    });
    const { final } = await deploy(env, "broken");
    expect(final.status).toBe("failed");
    expect(await env.repos.locks.get("prod")).toMatchObject({ kind: "freeze", reason: expect.stringContaining(`rollback to ${SHA.v1.slice(0, 7)} failed at build`) });
    expect(env.notifier.messages.some((m) => m.texts.some((t) => /the target needs a human; it is frozen/.test(t)))).toBe(true);
    expect(unlockData(env)).toMatch(/^fz:u:2:prod$/);
  });
});

describe("step rows after the remote work succeeded", () => {
  /** An audit log whose plain append fails for step rows (the database blinked), as a journaling one would be. */
  function journalingAudit(env: ReturnType<typeof setup>, retrying: (e: AuditEventInput) => boolean) {
    const retried: string[] = [];
    const journaled: string[] = [];
    const append = env.audit.append.bind(env.audit);
    const stepId = (e: AuditEventInput) => (e.detail as { step?: { id: string } } | null)?.step?.id ?? "";
    Object.assign(env.audit, {
      append: async (e: AuditEventInput) => {
        if (e.action.endsWith(".step")) throw new Error("connection terminated");
        return append(e);
      },
      appendRetrying: async (e: AuditEventInput) => {
        if (!retrying(e)) throw new Error("gave up after 5 attempts: connection terminated");
        retried.push(stepId(e));
        return append(e);
      },
      appendOrJournal: async (e: AuditEventInput) => {
        journaled.push(stepId(e));
        return { stored: "journal" as const, entryId: "j1" };
      },
    });
    return { retried, journaled };
  }

  it("are written with bounded retries: a blip does not fail a step whose work is done", async () => {
    const env = setup();
    const { retried } = journalingAudit(env, () => true);
    const { final } = await deploy(env, "main");
    expect(final.status).toBe("succeeded");
    expect(retried).toEqual(["fetch", "checkout", "build", "up", "health"]);
  });

  it("a rollback step whose row cannot be written goes to the journal, and the rollback goes on", async () => {
    const env = setup();
    const { journaled } = journalingAudit(env, (e) => !String((e.detail as { step?: { id: string } }).step?.id).startsWith("rollback-"));
    const { final } = await deploy(env, "broken");
    expect(final.status).toBe("rolled_back");
    expect(journaled).toEqual(["rollback-checkout", "rollback-build", "rollback-up", "rollback-health"]);
    expect(env.state.head).toBe(SHA.v1);
  });
});
