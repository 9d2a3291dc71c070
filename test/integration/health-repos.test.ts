import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Incident } from "../../src/health/types.js";
import { openDatabase, type DatabaseHandle } from "../../src/infra/db/client.js";
import { migrate } from "../../src/infra/db/migrate.js";
import { AlertOutboxRepo } from "../../src/infra/db/repos/alert-outbox.js";
import { IncidentsRepo } from "../../src/infra/db/repos/incidents.js";
import { MutesRepo } from "../../src/infra/db/repos/mutes.js";

/**
 * The health repos on the embedded default database (the Postgres server the bot starts itself
 * under DATA_DIR), so the SQL they use — partial-unique upsert, jsonb containment and append — is
 * checked without the integration services. The integration test covers the same repos there.
 */
let dir: string;
let handle: DatabaseHandle;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "opsgram-health-repos-"));
  handle = await openDatabase({ dataDir: dir });
  await migrate(handle);
}, 60_000);

afterAll(async () => {
  await handle?.close();
  rmSync(dir, { recursive: true, force: true });
});

function incident(over: Partial<Incident> = {}): Incident {
  const at = new Date("2026-11-22T12:00:00Z");
  return {
    id: 0,
    key: { target: "prod", source: "docker", subject: "web" },
    state: "open",
    openedAt: at,
    resolvedAt: null,
    lastSeenAt: at,
    count: 1,
    signals: [{ name: "container", error: "web exited (code 137)", failing: true }],
    flaps: 0,
    lastError: "web exited (code 137)",
    messages: [],
    ackedBy: null,
    ackedByName: null,
    ackedAt: null,
    lastReminderAt: null,
    ...over,
  };
}

describe("health repos (embedded Postgres)", () => {
  it("stores an incident with its outbox rows, records the message, finds incidents by message", async () => {
    const incidents = new IncidentsRepo(handle.db);
    const outbox = new AlertOutboxRepo(handle.db);
    const at = new Date("2026-11-22T12:00:01Z");
    const id = await incidents.saveIncident(incident(), [{ chatId: -100, kind: "open", text: "🔴 prod: web exited (code 137)" }], at);
    const pending = await outbox.pending(10);
    expect(pending).toMatchObject([{ incidentId: id, chatId: -100, kind: "open", attempts: 0, createdAt: at }]);

    await outbox.retryLater([pending[0]!.id], new Date("2026-11-22T12:00:05Z"), "rate limited");
    expect((await outbox.pending(10))[0]).toMatchObject({ attempts: 1, nextAttemptAt: new Date("2026-11-22T12:00:05Z") });

    await outbox.delivered([pending[0]!.id], at, { chatId: -100, messageId: 42 }, [id]);
    await outbox.delivered([pending[0]!.id], at, { chatId: -100, messageId: 42 }, [id]); // idempotent
    expect(await outbox.pending(10)).toEqual([]);
    const [stored] = await incidents.incidentsByIds([id]);
    expect(stored?.messages).toEqual([{ chatId: -100, messageId: 42 }]);
    expect((await incidents.incidentsOnMessage({ chatId: -100, messageId: 42 })).map((i) => i.id)).toEqual([id]);
    expect(await incidents.incidentsOnMessage({ chatId: -100, messageId: 43 })).toEqual([]);

    // The service's update does not overwrite the dispatcher's `messages`.
    await incidents.saveIncident({ ...incident({ id, state: "acked", ackedBy: 7, ackedByName: "alice", ackedAt: at }) }, [], at);
    const [acked] = await incidents.loadUnresolved();
    expect(acked).toMatchObject({ id, state: "acked", ackedByName: "alice", messages: [{ chatId: -100, messageId: 42 }] });
  });

  it("adopts the unresolved row of the same key instead of opening a second one", async () => {
    const incidents = new IncidentsRepo(handle.db);
    const first = (await incidents.loadUnresolved())[0]!.id;
    const again = await incidents.saveIncident(incident({ lastError: "web is unhealthy" }), [], new Date());
    expect(again).toBe(first);
    await incidents.saveIncident({ ...incident({ id: first, state: "resolved", resolvedAt: new Date() }) }, [], new Date());
    const fresh = await incidents.saveIncident(incident(), [], new Date());
    expect(fresh).not.toBe(first); // resolved rows do not block a new incident of the key
  });

  it("gives up items for good and keeps mutes by key", async () => {
    const incidents = new IncidentsRepo(handle.db);
    const outbox = new AlertOutboxRepo(handle.db);
    const mutes = new MutesRepo(handle.db);
    const id = (await incidents.loadUnresolved())[0]!.id;
    await incidents.saveIncident(incident({ id }), [{ chatId: -200, kind: "update", text: "x" }], new Date());
    const [item] = await outbox.pending(10);
    await outbox.giveUp([item!.id], new Date(), "403 Forbidden: bot was kicked");
    expect(await outbox.pending(10)).toEqual([]);
    expect((await outbox.all()).at(-1)).toMatchObject({ lastError: "403 Forbidden: bot was kicked", attempts: 1 });

    const now = new Date("2026-11-22T12:00:00Z");
    await mutes.saveMute({ key: "prod:docker:web", until: new Date(now.getTime() + 60_000), byUserId: 7, byName: "alice", reason: null });
    await mutes.saveMute({ key: "prod:docker:web", until: new Date(now.getTime() + 120_000), byUserId: 8, byName: "bob", reason: "deploy window" });
    expect(await mutes.loadMutes(now)).toEqual([{ key: "prod:docker:web", until: new Date(now.getTime() + 120_000), byUserId: 8, byName: "bob", reason: "deploy window" }]);
    await mutes.deleteMute("prod:docker:web");
    expect(await mutes.loadMutes(now)).toEqual([]);
    expect(await mutes.loadMutes(new Date(now.getTime() + 121_000))).toEqual([]);
  });
});
