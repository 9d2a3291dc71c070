/**
 * Runbook coverage against the sandbox VPS (sshd, dockerd + compose app from a git checkout) and a
 * real Postgres for the bot: scale that survives a deploy, several services scaled at once, partial
 * deploys, verify steps, body checks in the gate, /run, /restart and /logs across services.
 *
 * One sandbox for the whole file; tests run in order and each leaves the target as the next expects.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { fileSchema, type OpsFile } from "../../src/config/file.js";
import { PostgresAuditLog } from "../../src/infra/db/audit-log.js";
import { openDatabase, type DatabaseHandle } from "../../src/infra/db/client.js";
import { migrate } from "../../src/infra/db/migrate.js";
import { createOperationRepositories } from "../../src/infra/db/repos/operations.js";
import { createLogger } from "../../src/infra/logger.js";
import { createTargetConnections, type TargetConnections } from "../../src/infra/targets.js";
import { createOperations, type OperationRepositories, type Operations } from "../../src/operations/index.js";
import { redactText } from "../../src/shared/redact.js";
import { systemClock, type ExecOptions, type ExecResult, type ExpectedChanges, type RemoteShell } from "../../src/shared/ports.js";
import { startSandbox, type Sandbox } from "../sandbox/index.js";
import { createTestDatabase } from "../support/db.js";
import { INJECTION_PAYLOADS, MARKER } from "../support/injection-corpus.js";
import { ChatReporter } from "../../src/bot/operations/chat-reporter.js";
import { RecordingNotifier, alice, bob, chatOf } from "../unit/operations-fakes.js";
import { RecordingShell } from "../support/recording-shell.js";
import { sandboxTarget } from "../support/sandbox-target.js";

const log = createLogger({ level: "silent" });
let sandbox: Sandbox;
let database: DatabaseHandle;
let repos: OperationRepositories;
let audit: PostgresAuditLog;
let connections: TargetConnections;
let shell: RecordingShell;
const running: Operations[] = [];


/** Records the holds operations take, so "our own restart raises no alert" can be checked. */
class RecordingExpected implements ExpectedChanges {
  holds: { target: string; from: number; to: number | null }[] = [];
  expect(target: string) {
    const hold = { target, from: Date.now(), to: null as number | null };
    this.holds.push(hold);
    return { end: () => void (hold.to = Date.now()) };
  }
}

function buildConfig(deploy: Record<string, unknown> = {}): OpsFile {
  return fileSchema.parse({
    targets: {
      prod: {
        ...sandboxTarget(sandbox),
        services: { web: { min: 1, max: 1 }, worker: { min: 1, max: 3 } },
        deploy: {
          healthcheck: { url: `http://127.0.0.1:${sandbox.webPort}/health`, from: "target", expectStatus: 200, timeoutSeconds: 8, intervalSeconds: 0.5 },
          autoRollback: true,
          ...deploy,
        },
        commands: {
          count: { description: "count the quiz questions", run: "echo 42 questions", confirm: false },
          leak: { description: "prints credentials", run: "printf 'PASSWORD=hunter2hunter\\nAuthorization: Bearer abcdefgh12345678\\n'", confirm: false },
          greet: { description: "writes a greeting", run: "echo hello {who} > greeting.txt && cat greeting.txt", args: { who: "^[a-z0-9-]{1,32}$" } },
        },
      },
    },
    confirmTimeoutSeconds: 60,
  });
}

function makeOps(config: OpsFile = buildConfig(), expected?: ExpectedChanges) {
  const notifier = new RecordingNotifier();
  const ops = createOperations({
    repos,
    audit,
    reporter: new ChatReporter(notifier, systemClock, log),
    targets: { prod: { shell, docker: connections.docker } },
    config,
    clock: systemClock,
    log,
    redact: redactText,
    ...(expected ? { expected } : {}),
  });
  running.push(ops);
  return { ops, notifier };
}

async function confirmed(ops: Operations, planned: { status: string; operationId?: string; message?: { chatId: number; messageId: number } | null }) {
  if (planned.status !== "planned") throw new Error(`not planned: ${JSON.stringify(planned)}`);
  const pressed = await ops.service.confirm(bob, planned.operationId!, planned.message ?? null);
  if (pressed.status !== "confirmed") throw new Error(`not confirmed: ${JSON.stringify(pressed)}`);
  return pressed.done;
}

async function containersOf(service: string) {
  return (await connections.docker.listContainers(sandbox.composeProject)).filter((c) => c.service === service && c.state === "running");
}

function head(): string {
  return execFileSync("git", ["-C", sandbox.appDir, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
}

beforeAll(async () => {
  sandbox = await startSandbox({ postgresUrl: inject("postgresUrl") });
  database = await openDatabase({ url: createTestDatabase("runbook"), dataDir: sandbox.dir });
  await migrate(database);
  repos = createOperationRepositories(database.db);
  audit = new PostgresAuditLog(database.db);
  const config = buildConfig();
  connections = createTargetConnections("prod", config.targets.prod!, log);
  shell = new RecordingShell(connections.shell);
});

afterAll(async () => {
  for (const ops of running) await ops.stop({ graceMs: 1_000 });
  await connections?.close();
  await database?.close();
  await sandbox?.stop();
});

describe("scale survives a deploy", () => {
  it("/scale worker 3, then /deploy: 3 workers still run, and /status shows running/desired", async () => {
    const { ops } = makeOps();
    expect((await confirmed(ops, await chatOf(ops).scale(alice, ["worker", "3"]))).status).toBe("succeeded");
    expect(await containersOf("worker")).toHaveLength(3);
    const deployed = await confirmed(ops, await chatOf(ops).deploy(alice, ["release/v2"]));
    expect(deployed.status).toBe("succeeded");
    expect(head()).toBe(sandbox.versions.v2);
    expect(shell.calls.some((c) => c.endsWith("up -d --scale worker=3"))).toBe(true);
    expect(await containersOf("worker")).toHaveLength(3);
    const status = await chatOf(ops).statusOf(alice, []);
    expect(status.status === "ok" && status.html).toContain("worker 3/3");
  });

  it("/scale worker=2 web=1 scales both in one operation", async () => {
    const { ops } = makeOps();
    const final = await confirmed(ops, await chatOf(ops).scale(alice, ["worker=2", "web=1"]));
    expect(final.status).toBe("succeeded");
    expect(await containersOf("worker")).toHaveLength(2);
    expect(await containersOf("web")).toHaveLength(1);
    expect(await repos.replicas.forTarget("prod")).toEqual({ web: 1, worker: 2 });
  });
});

describe("partial deploys, verify steps, body checks", () => {
  it("deploy.services: [web] builds and recreates web only; the worker containers keep their ids", async () => {
    const { ops } = makeOps(buildConfig({ services: ["web"] }));
    const workers = (await containersOf("worker")).map((c) => c.id).sort();
    const web = (await containersOf("web"))[0]!;
    const final = await confirmed(ops, await chatOf(ops).deploy(alice, ["main"]));
    expect(final.status).toBe("succeeded");
    expect(head()).toBe(sandbox.versions.v1);
    expect((await containersOf("worker")).map((c) => c.id).sort()).toEqual(workers);
    expect((await containersOf("web"))[0]!.id).not.toBe(web.id);
    expect(shell.calls.some((c) => / build web$/.test(c))).toBe(true);
    expect(shell.calls.some((c) => / up -d --no-deps --scale web=1 web$/.test(c))).toBe(true);
  });

  it("a failing verify step is an unhealthy deploy: rolled back", async () => {
    const { ops, notifier } = makeOps(buildConfig({ verify: [{ name: "smoke", run: "test -f no-such-smoke-file" }] }));
    const planned = await chatOf(ops).deploy(alice, ["release/v2"]);
    const final = await confirmed(ops, planned);
    expect(final.status).toBe("rolled_back");
    expect(head()).toBe(sandbox.versions.v1);
    expect(notifier.last((planned as { message: { messageId: number } }).message.messageId)).toContain("failed at verify smoke");
  });

  it("the gate judges the body: expectBodyContains passes on the body, fails (and rolls back) without it", async () => {
    // /version answers "v1" or "v2": a gate wanting "v2" passes on v2 and fails on v1, whose rollback to v2 passes again.
    const gate = { url: `http://127.0.0.1:${sandbox.webPort}/version`, expectBodyContains: "v2", headers: { Authorization: "Bearer sekrit-token-123" }, timeoutSeconds: 4, intervalSeconds: 0.5 };
    const good = makeOps(buildConfig({ healthcheck: gate }));
    expect((await confirmed(good.ops, await chatOf(good.ops).deploy(alice, ["release/v2"]))).status).toBe("succeeded");
    const bad = makeOps(buildConfig({ healthcheck: gate }));
    const planned = await chatOf(bad.ops).deploy(alice, ["main"]);
    expect((await confirmed(bad.ops, planned)).status).toBe("rolled_back");
    expect(head()).toBe(sandbox.versions.v2);
    const output = bad.notifier.documents.map((d) => d.content).join("\n");
    expect(output).toContain('HTTP 200, body lacks "v2"');
    expect(output).not.toContain("sekrit-token-123");
  });
});

describe("/run, /restart, /logs", () => {
  it("a read-only command answers at once with its output; credentials come back masked", async () => {
    const { ops } = makeOps();
    const reply = await chatOf(ops).run(alice, ["count"]);
    expect(reply).toMatchObject({ status: "ok", html: expect.stringContaining("<pre>42 questions</pre>") });
    const leak = await chatOf(ops).run(alice, ["leak"]);
    expect(leak.status).toBe("ok");
    const html = leak.status === "ok" && "html" in leak ? leak.html : "";
    expect(html).toContain("PASSWORD=***");
    expect(html).not.toMatch(/hunter2hunter|abcdefgh12345678/);
    const rows = (await audit.recent(10)).filter((e) => e.action === "run").map((e) => e.outcome);
    expect(rows).toEqual(["succeeded", "requested", "succeeded", "requested"]);
  });

  it("a confirmed command with an argument runs after Confirm; injection payloads are refused and nothing runs", async () => {
    const { ops, notifier } = makeOps();
    const planned = await chatOf(ops).run(alice, ["greet", "acme"]);
    expect(existsSync(join(sandbox.appDir, "greeting.txt"))).toBe(false);
    const final = await confirmed(ops, planned as { status: string; operationId?: string });
    expect(final.status).toBe("succeeded");
    expect(notifier.messages.at(-1)!.texts.at(-1)).toContain("<pre>hello acme</pre>");
    const before = shell.calls.length;
    for (const p of INJECTION_PAYLOADS) {
      const reply = await chatOf(ops).run(alice, ["greet", p.value]);
      expect(reply.status, p.name).toBe("refused");
      if (reply.status === "refused") expect(reply.reason).not.toContain(MARKER);
    }
    expect(shell.calls.length).toBe(before);
    expect(existsSync(join(sandbox.appDir, MARKER))).toBe(false);
    expect(await repos.operations.listByStatus(["awaiting_confirmation"])).toHaveLength(0);
  });

  it("/restart web gives the container a new start time, under an expected-change hold", async () => {
    const expected = new RecordingExpected();
    const { ops } = makeOps(buildConfig(), expected);
    const before = (await containersOf("web"))[0]!;
    const final = await confirmed(ops, await chatOf(ops).restart(alice, ["web"]));
    expect(final.status).toBe("succeeded");
    const after = (await containersOf("web"))[0]!;
    expect(after.id).toBe(before.id);
    expect(after.startedAt!.getTime()).toBeGreaterThan(before.startedAt!.getTime());
    expect(after.health).toBe("healthy");
    expect(expected.holds).toHaveLength(1);
    expect(expected.holds[0]!.to).not.toBeNull();
  });

  it("/logs web,worker since=1h grep=started: both services, filtered by opsgram", async () => {
    const { ops } = makeOps();
    const reply = await chatOf(ops).logs(alice, ["web,worker", "since=1h", "grep=worker.started"]);
    expect(reply.status).toBe("ok");
    const html = reply.status === "ok" ? reply.html : "";
    expect(html).toContain("worker started");
    expect(html.split("\n").slice(1).every((l) => /worker started|<\/?pre>|^$/.test(l))).toBe(true);
    expect(await chatOf(ops).logs(alice, ["web", "grep=(a+)+"])).toMatchObject({ status: "refused" });
  });
});
