import { describe, expect, it } from "vitest";
import { ChatReporter } from "../../src/bot/operations/chat-reporter.js";
import { fileSchema } from "../../src/config/file.js";
import { createOperationRepositories } from "../../src/infra/db/repos/operations.js";
import { createOperations } from "../../src/operations/index.js";
import { redactText } from "../../src/shared/redact.js";
import { systemClock } from "../../src/shared/ports.js";
import * as h from "../support/health-harness.js";
import { RecordingNotifier, alice, bob, chatOf } from "../unit/operations-fakes.js";

/**
 * `/restart web` with health monitoring running (see test/support/health-harness.ts): the
 * container gets a new start time, and our own restart raises no alert — checked by a later
 * marker alert (worker killed and recovered), never by sleeping.
 */

h.useHealthHarness("runbook_restart");

describe("/restart with health monitoring running", () => {
  it("/restart web: a new start time, healthy again, and no alert about web", async () => {
    const config = fileSchema.parse({ confirmTimeoutSeconds: 60 });
    const ops = createOperations({
      repos: createOperationRepositories(h.database.db),
      audit: h.audit,
      reporter: new ChatReporter(new RecordingNotifier(), systemClock, h.log),
      targets: { prod: { shell: h.conn.shell, docker: h.conn.docker } },
      config: { ...config, targets: { prod: h.targetConfig() } },
      clock: systemClock,
      log: h.log,
      redact: redactText,
      expected: h.health!.expected,
    });
    const mark = h.telegram.messages.length;
    const before = (await h.conn.docker.listContainers(h.sandbox.composeProject)).find((c) => c.service === "web")!;
    const planned = await chatOf(ops).restart(alice, ["web"]);
    if (planned.status !== "planned") throw new Error(JSON.stringify(planned));
    const pressed = await ops.service.confirm(bob, planned.operationId, planned.message);
    if (pressed.status !== "confirmed") throw new Error(JSON.stringify(pressed));
    expect((await pressed.done).status).toBe("succeeded");
    const after = (await h.conn.docker.listContainers(h.sandbox.composeProject)).find((c) => c.service === "web")!;
    expect(after.id).toBe(before.id);
    expect(after.startedAt!.getTime()).toBeGreaterThan(before.startedAt!.getTime());
    expect(after.health).toBe("healthy");
    // The hold covers the whole target, plus a grace period for trailing events: the marker's own
    // kill would be swallowed inside it, so wait it out first (a state read, not a fixed sleep).
    const registry = h.health!.expected as unknown as { isTargetChanging(target: string): boolean };
    await h.waitUntil("the expected change's grace period over", () => (registry.isTargetChanging("prod") ? undefined : true), 15_000);
    await h.marker();
    expect(h.sentSince(mark, (m) => /web/.test(m.text))).toEqual([]);
    await ops.stop({ graceMs: 1_000 });
    await h.settled();
  });
});
