import { describe, expect, it } from "vitest";
import { composeBuild, composeScale, composeUp } from "../../src/commands/compose.js";
import { httpProbeArgv, judgeHttpResponse } from "../../src/commands/http-probe.js";
import { checkLogsQuery, mergeLogLines, parseGrep, parseSince, splitTimestamped } from "../../src/operations/logs.js";
import { createOperations } from "../../src/operations/index.js";
import { checkRun, commandLine } from "../../src/operations/run-command.js";
import { INJECTION_PAYLOADS, MARKER } from "../support/injection-corpus.js";
import { FakeDocker, FakeShell, JumpClock, alice, bob, chatOf, container, makeDeps, opsConfig } from "./operations-fakes.js";
import { fakeRepo } from "./operations-fake-repo.js";

const v1 = { command: "docker-compose" as const, files: [], project: "app" };

describe("compose argv for scale that survives an up, and partial deploys", () => {
  it("passes every recorded count with --scale, in name order, and only the named services", () => {
    expect(composeUp(v1, { scale: { worker: 3, api: 2 } })).toEqual(["docker-compose", "-p", "app", "up", "-d", "--scale", "api=2", "--scale", "worker=3"]);
    expect(composeUp(v1, { services: ["web"], noDeps: true, scale: {} })).toEqual(["docker-compose", "-p", "app", "up", "-d", "--no-deps", "web"]);
    expect(composeScale(v1, { worker: 3, api: 2 })).toEqual(["docker-compose", "-p", "app", "up", "-d", "--no-recreate", "--scale", "api=2", "--scale", "worker=3", "api", "worker"]);
    expect(composeBuild(v1, ["web"])).toEqual(["docker-compose", "-p", "app", "build", "web"]);
    expect(() => composeUp(v1, { scale: { "-x": 1 } })).toThrow(TypeError);
    expect(() => composeUp(v1, { scale: { worker: -1 } })).toThrow(TypeError);
  });
});

describe("/run argument checks", () => {
  const commands = opsConfig({
    commands: {
      revoke_key: { description: "revoke a key", run: "manage revoke-key {tenant} {key_id}", args: { tenant: "^[a-z0-9-]{1,32}$", key_id: "^[0-9]{1,9}$" } },
      orders: { description: "orders today", run: "echo 42", confirm: false },
    },
  }).targets.prod!.commands;

  it("takes each value whole against its pattern and quotes it into the line", () => {
    const ok = checkRun(commands, "revoke_key", ["acme-1", "12"]);
    expect(ok.ok).toBe(true);
    if (ok.ok) expect(commandLine(ok.command, ok.values)).toBe("manage revoke-key acme-1 12");
    expect(checkRun(commands, "revoke_key", ["acme"])).toMatchObject({ ok: false, reason: expect.stringContaining("takes 2 arguments") });
    expect(checkRun(commands, "revoke_key", ["ACME", "1"])).toEqual({ ok: false, reason: "Argument tenant does not match its pattern ^[a-z0-9-]{1,32}$. Usage: /run revoke_key <tenant> <key_id>" });
    expect(checkRun(commands, "nope", [])).toMatchObject({ ok: false, unknown: true });
    expect(checkRun(commands, "constructor", [])).toMatchObject({ ok: false, unknown: true });
  });

  it("refuses every injection payload as an argument, and never repeats it in the reason", () => {
    for (const p of INJECTION_PAYLOADS) {
      const checked = checkRun(commands, "revoke_key", [p.value, "1"]);
      expect(checked.ok, p.name).toBe(false);
      if (!checked.ok) expect(checked.reason).not.toContain(MARKER);
    }
  });
});

describe("/logs options", () => {
  it("since= and grep= are bounded and validated", () => {
    expect(parseSince("15m")).toEqual({ ok: true, value: 900 });
    expect(parseSince("8d")).toMatchObject({ ok: false });
    expect(parseSince("15")).toMatchObject({ ok: false });
    expect(parseGrep("err(or)?")).toMatchObject({ ok: true });
    expect(parseGrep("(a+)+$")).toMatchObject({ ok: false, reason: expect.stringContaining("nest") });
    expect(parseGrep("x".repeat(101))).toMatchObject({ ok: false });
    expect(parseGrep("(")).toMatchObject({ ok: false, reason: expect.stringContaining("not a valid regular expression") });
    expect(checkLogsQuery(["web"], { services: ["web", "db"], lines: undefined })).toMatchObject({ ok: false });
  });

  it("interleaves replicas by Docker's timestamps, filters, keeps the last lines", () => {
    const a = splitTimestamped("web-1", "2026-11-26T10:00:01.000000000Z GET / 200\n2026-11-26T10:00:03.000000000Z ERROR boom\n");
    const b = splitTimestamped("worker-1", "2026-11-26T10:00:02.000000000Z error: retry\n");
    expect(mergeLogLines([a, b], { grep: null, lines: 10 }).map((l) => l.text)).toEqual(["GET / 200", "error: retry", "ERROR boom"]);
    expect(mergeLogLines([a, b], { grep: /error/i, lines: 1 }).map((l) => `${l.replica} ${l.text}`)).toEqual(["web-1 ERROR boom"]);
  });
});

describe("richer HTTP checks", () => {
  it("sends headers and judges the body", () => {
    expect(httpProbeArgv("http://x/h", 2, { headers: { Authorization: "Bearer t0ken" }, body: true })).toEqual(["wget", "-S", "-O", "-", "--tries=1", "-T", "2", "--header=Authorization: Bearer t0ken", "http://x/h"]);
    expect(() => httpProbeArgv("http://x/h", 2, { headers: { "Bad Name": "v" } })).toThrow(TypeError);
    const check = { expectStatus: 200, expectBodyContains: '"status":"UP"' };
    expect(judgeHttpResponse(check, 200, '{"status":"UP"}')).toEqual({ healthy: true, detail: "HTTP 200" });
    expect(judgeHttpResponse(check, 200, '{"status":"DOWN"}')).toEqual({ healthy: false, detail: 'HTTP 200, body lacks "\\"status\\":\\"UP\\""' });
    expect(judgeHttpResponse({ expectStatus: 200, expectBodyMatches: "^ok" }, 200, "nope").healthy).toBe(false);
    expect(judgeHttpResponse(check, 503, '{"status":"UP"}')).toEqual({ healthy: false, detail: "HTTP 503" });
  });
});

async function confirmed(ops: ReturnType<typeof createOperations>, planned: { status: string; operationId?: string; message?: { chatId: number; messageId: number } | null }) {
  if (planned.status !== "planned") throw new Error(`not planned: ${JSON.stringify(planned)}`);
  const pressed = await ops.service.confirm(bob, planned.operationId!, planned.message ?? null);
  if (pressed.status !== "confirmed") throw new Error("not confirmed");
  return pressed.done;
}

describe("scale is recorded and every deploy up keeps it (fakes)", () => {
  it("/scale api=2 worker=3 is one operation; the next deploy passes both counts", async () => {
    const { shell, state } = fakeRepo();
    const docker = new FakeDocker();
    docker.containers = [container("api", 1), container("api", 2), container("worker", 1), container("worker", 2), container("worker", 3)];
    const config = opsConfig({ services: { api: { min: 1, max: 3 }, worker: { min: 1, max: 3 } }, deploy: { autoRollback: false } });
    const env = makeDeps({ shell, docker, config, clock: new JumpClock() });
    const ops = createOperations(env.deps);
    const scaled = await confirmed(ops, await chatOf(ops).scale(alice, ["api=2", "worker=3"]));
    expect(scaled.status).toBe("succeeded");
    expect(await env.repos.replicas.forTarget("prod")).toEqual({ api: 2, worker: 3 });
    expect(shell.lines).toContain("docker-compose -p app up -d --no-recreate --scale api=2 --scale worker=3 api worker");
    expect(await chatOf(ops).scale(alice, ["api=2", "worker=9"])).toMatchObject({ status: "refused", reason: expect.stringContaining("worker") });

    const deployed = await confirmed(ops, await chatOf(ops).deploy(alice, ["main"]));
    expect(deployed.status).toBe("succeeded");
    expect(shell.lines).toContain("docker-compose -p app up -d --scale api=2 --scale worker=3");
    expect(state.head).not.toBe("");
    const status = await chatOf(ops).statusOf(alice, []);
    expect(status.status === "ok" && status.html).toContain("api 2/2");
  });

  it("deploy.services builds and recreates only those; a failing verify step rolls back", async () => {
    const { shell, state } = fakeRepo({ failOn: /^false-check$/ });
    const config = opsConfig({ services: { web: { min: 1, max: 1 }, worker: { min: 1, max: 3 } }, deploy: { services: ["web"], verify: [{ name: "smoke", run: "false-check" }] } });
    const docker = new FakeDocker();
    docker.containers = [container("web", 1), container("worker", 1)];
    const env = makeDeps({ shell, docker, config, clock: new JumpClock() });
    const ops = createOperations(env.deps);
    const planned = await chatOf(ops).deploy(alice, ["main"]);
    expect(env.notifier.messages[0]!.texts[0]).toContain("build web · up -d web · verify smoke");
    const before = state.head;
    const final = await confirmed(ops, planned);
    expect(shell.lines).toContain("docker-compose -p app build web");
    expect(shell.lines.filter((l) => l === "docker-compose -p app up -d --no-deps web")).toHaveLength(2);
    expect(shell.lines).not.toContain("docker-compose -p app build");
    expect(final.status).toBe("rolled_back");
    expect(state.head).toBe(before);
    expect(env.notifier.last(planned.status === "planned" ? planned.message!.messageId : 0)).toContain("failed at verify smoke");
  });
});

describe("/run and /restart (fakes)", () => {
  const commands = {
    orders: { description: "orders today", run: "echo orders", confirm: false },
    secret: { description: "prints secrets", run: "echo secret", confirm: false },
    revoke_key: { description: "revoke a key", run: "manage revoke-key {tenant}", args: { tenant: "^[a-z0-9-]{1,32}$" } },
  };

  it("read-only answers at once, redacted, audited; unknown gets the list; confirmed runs after Confirm", async () => {
    const shell = new FakeShell((cmd) => {
      if (cmd === "echo orders") return { stdout: "42\n" };
      if (cmd === "echo secret") return { stdout: "PASSWORD=hunter22\nAuthorization: Bearer abcdefgh12345678\n" };
      if (cmd === "manage revoke-key acme") return { stdout: "revoked\n" };
      return { code: 1 };
    });
    const env = makeDeps({ shell, config: opsConfig({ commands }), clock: new JumpClock() });
    const ops = createOperations(env.deps);
    const chat = chatOf(ops);
    expect(await chat.run(alice, ["orders"])).toMatchObject({ status: "ok", html: expect.stringContaining("<pre>42</pre>") });
    const secret = await chat.run(alice, ["secret"]);
    expect(secret.status === "ok" && secret.html).not.toMatch(/hunter22|abcdefgh12345678/);
    expect(await chat.run(alice, [])).toMatchObject({ status: "ok", html: expect.stringContaining("/run revoke_key</code> &lt;tenant&gt;") });
    expect(await chat.run(alice, ["nope"])).toMatchObject({ status: "ok", html: expect.stringMatching(/^Unknown command/) });
    expect(await chat.run(alice, ["revoke_key", "ACME"])).toMatchObject({ status: "refused", reason: expect.stringContaining("^[a-z0-9-]{1,32}$") });
    const runs = env.audit.events.filter((e) => e.action === "run").map((e) => e.outcome);
    expect(runs).toEqual(["requested", "succeeded", "requested", "succeeded", "denied", "denied"]);

    const final = await confirmed(ops, await chat.run(alice, ["revoke_key", "acme"]));
    expect(final.status).toBe("succeeded");
    expect(shell.lines).toContain("TRUSTED manage revoke-key acme");
    expect(env.notifier.messages.at(-1)!.texts.at(-1)).toContain("<pre>revoked</pre>");
  });

  it("long output of a confirmed command comes as a file; a read-only one runs on without holding the reply", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const shell = new FakeShell(async (cmd) => {
      if (cmd === "manage revoke-key acme") return { stdout: `${"line\n".repeat(1000)}TOKEN=abcdef123456\n` };
      if (cmd === "echo orders") {
        await gate;
        return { stdout: "42\n" };
      }
      return {};
    });
    const env = makeDeps({ shell, config: opsConfig({ commands }), clock: new JumpClock() });
    const ops = createOperations(env.deps);
    const final = await confirmed(ops, await chatOf(ops).run(alice, ["revoke_key", "acme"]));
    expect(final.status).toBe("succeeded");
    expect(env.notifier.messages.at(-1)!.texts.at(-1)).toContain("The output is attached as a file.");
    const doc = env.notifier.documents.at(-1)!;
    expect(doc.filename).toBe("run-prod-revoke_key.txt");
    expect(doc.content).toContain("TOKEN=***");
    expect(doc.content).not.toContain("abcdef123456");

    const started = await chatOf(ops).startRun(alice, ["orders"]);
    expect(started.status).toBe("running");
    expect(env.audit.events.at(-1)).toMatchObject({ action: "run", outcome: "requested" });
    release();
    if (started.status === "running") expect(await started.done).toMatchObject({ status: "ok", html: expect.stringContaining("<pre>42</pre>") });
  });

  it("/restart: configured service only; verified by a new start time", async () => {
    const docker = new FakeDocker();
    let restarted = false;
    docker.listContainers = async () => [container("worker", 1, { startedAt: new Date(restarted ? 10_000_000 : 1_000_000), health: "healthy" })];
    const shell = new FakeShell((cmd) => {
      if (Array.isArray(cmd) && cmd.includes("restart")) restarted = true;
      return {};
    });
    const env = makeDeps({ shell, docker, clock: new JumpClock() });
    const ops = createOperations(env.deps);
    expect(await chatOf(ops).restart(alice, ["db"])).toMatchObject({ status: "refused" });
    const final = await confirmed(ops, await chatOf(ops).restart(alice, ["worker"]));
    expect(final.status).toBe("succeeded");
    expect(shell.lines).toEqual(["docker-compose -p app restart worker"]);
  });
});

describe("health.http checks judge the body and send headers", () => {
  it("from the bot: a 200 without the expected text is a failure; headers are sent", async () => {
    const { httpFromBot } = await import("../../src/health/checks.js");
    const { fileSchema } = await import("../../src/config/file.js");
    const check = fileSchema.parse({
      targets: { prod: { host: "local", appDir: "/srv", health: { http: [{ name: "api", url: "https://x.example/h", from: "bot", expectBodyMatches: "\"status\":\\s*\"UP\"", headers: { "X-Ops": "t0k3n-value" } }] } } },
    }).targets.prod!.health.http[0]!;
    let body = '{"status": "DOWN"}';
    const seen: Headers[] = [];
    const fetchFn = (async (_url: string, init?: RequestInit) => {
      seen.push(new Headers(init?.headers));
      return new Response(body, { status: 200 });
    }) as unknown as typeof fetch;
    const polled = httpFromBot({ target: "prod", isTargetChanging: () => false } as never, check, null, fetchFn);
    expect(await polled.run()).toMatchObject({ status: "failed", error: expect.stringContaining("body does not match") });
    body = '{"status": "UP"}';
    expect(await polled.run()).toEqual({ status: "ok" });
    expect(seen[0]!.get("x-ops")).toBe("t0k3n-value");
  });
});
