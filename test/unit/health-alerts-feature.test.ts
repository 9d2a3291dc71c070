import { alertRenderer } from "../../src/bot/alerts/render.js";
import { Bot } from "grammy";
import type { Update } from "grammy/types";
import { describe, expect, it } from "vitest";
import { createAlertsFeature } from "../../src/bot/handlers/alerts.js";
import { createMutesFeature } from "../../src/bot/handlers/mutes.js";
import type { BotContext } from "../../src/bot/context.js";
import { ackData, muteData } from "../../src/bot/alerts/callback-data.js";
import { HealthService } from "../../src/health/service.js";
import type { AuditEvent, AuditEventInput, AuditLog } from "../../src/shared/ports.js";
import { FakeClock, MemoryHealthStore, silentLog } from "./health-fakes.js";

const CHAT = -1001;

class MemoryAudit implements AuditLog {
  events: AuditEventInput[] = [];
  failNext = false;
  async append(event: AuditEventInput): Promise<AuditEvent> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error("database is down");
    }
    this.events.push(event);
    return { ...event, id: this.events.length, createdAt: new Date(), prevHash: "", hash: "" };
  }
  async recent(): Promise<AuditEvent[]> {
    return [];
  }
}

/** The alerts feature on a real grammY Bot whose Bot API calls are answered by a transformer. */
async function setup() {
  const clock = new FakeClock();
  const store = new MemoryHealthStore();
  const service = new HealthService({ store, mutes: store, render: alertRenderer, services: new Map([["prod", new Set(["web", "worker"])]]), clock, log: silentLog, alertChatIds: [CHAT], onQueued: () => {} });
  await service.load();
  const audit = new MemoryAudit();
  const bot = new Bot<BotContext>("1:test", { botInfo: { id: 1, is_bot: true, first_name: "opsgram", username: "opsgram_bot", can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false, can_connect_to_business: false, has_main_web_app: false } as never });
  const calls: { method: string; payload: Record<string, unknown> }[] = [];
  bot.api.config.use(async (_prev, method, payload) => {
    calls.push({ method, payload: payload as Record<string, unknown> });
    return { ok: true, result: method === "sendMessage" ? { message_id: 1, date: 0, chat: { id: CHAT, type: "supergroup", title: "t" }, text: "" } : true } as never;
  });
  bot.use((ctx, next) => {
    ctx.actor = { chatId: ctx.chat?.id ?? 0, userId: ctx.from?.id ?? 0, username: ctx.from?.username ?? null };
    ctx.log = silentLog;
    return next();
  });
  const feature = createAlertsFeature({ alerts: service, audit, now: () => clock.now() });
  feature.register(bot as never);
  createMutesFeature({ alerts: service, audit }).register(bot as never);
  // One open incident shown in message 50.
  await service.submit({ key: { target: "prod", source: "docker", subject: "web" }, at: clock.now(), ok: false, error: "web exited (code 137)", policy: { failuresBeforeAlert: 1, successesBeforeRecovery: 1, remindEveryMs: null } });
  const incidentId = [...store.incidents.keys()][0]!;
  store.incidents.get(incidentId)!.messages.push({ chatId: CHAT, messageId: 50 });
  return { clock, store, service, audit, bot, calls, incidentId };
}

let updateId = 1;
function press(data: string): Update {
  const from = { id: 7, is_bot: false, first_name: "Alice", username: "alice" };
  return {
    update_id: updateId++,
    callback_query: {
      id: String(updateId),
      from,
      chat_instance: "1",
      data,
      message: { message_id: 50, date: 0, chat: { id: CHAT, type: "supergroup", title: "t" }, text: "🔴 prod: web exited (code 137)" },
    },
  } as Update;
}
function command(text: string): Update {
  return {
    update_id: updateId++,
    message: { message_id: 1, date: 0, chat: { id: CHAT, type: "supergroup", title: "t" }, from: { id: 7, is_bot: false, first_name: "Alice" }, text, entities: [{ type: "bot_command", offset: 0, length: text.split(" ")[0]!.length }] },
  } as Update;
}

describe("alerts feature", () => {
  it("/alerts lists open incidents with their age", async () => {
    const { bot, calls, clock } = await setup();
    clock.advance(5 * 60_000);
    await bot.handleUpdate(command("/alerts"));
    expect(calls.at(-1)).toMatchObject({ method: "sendMessage" });
    expect(calls.at(-1)!.payload.text).toBe("1 open incident:\n🔴 prod: web exited (code 137) — since 5 min ago");
  });

  it("Ack: audited first, then applied; a second press is answered, not applied twice", async () => {
    const { bot, calls, audit, service, incidentId } = await setup();
    await bot.handleUpdate(press(ackData(incidentId)));
    expect(audit.events).toMatchObject([{ action: "alerts.ack", userId: 7, username: "alice", target: "prod", outcome: "confirmed", args: { incidentId } }]);
    expect(service.openIncidents()[0]).toMatchObject({ state: "acked", ackedByName: "alice" });
    expect(calls.at(-1)).toMatchObject({ method: "answerCallbackQuery", payload: { text: "Acknowledged (1). No more reminders for it." } });
    await bot.handleUpdate(press(ackData(incidentId)));
    expect(calls.at(-1)!.payload.text).toBe("Already acknowledged or resolved.");
  });

  it("no audit, no action: when the audit row cannot be written the incident stays unacked", async () => {
    const { bot, audit, service, incidentId } = await setup();
    audit.failNext = true;
    await expect(bot.handleUpdate(press(ackData(incidentId)))).rejects.toThrow(/database is down/);
    expect(service.openIncidents()[0]?.ackedAt).toBeNull();
  });

  it("Mute: silences the key for the offered time; forged data is refused without an audit row", async () => {
    const { bot, calls, audit, store, incidentId } = await setup();
    await bot.handleUpdate(press(muteData(incidentId, 60)));
    expect(calls.at(-1)!.payload.text).toBe("Muted for 1 h.");
    expect(store.mutes.get("prod:docker:web")).toMatchObject({ byUserId: 7, byName: "alice" });
    expect(audit.events.at(-1)).toMatchObject({ action: "alerts.mute", args: { incidentId, minutes: 60 } });
    const before = audit.events.length;
    await bot.handleUpdate(press(`alerts:mute:${incidentId}:525600`));
    expect(calls.at(-1)!.payload.text).toBe("This button is not valid any more.");
    expect(audit.events).toHaveLength(before);
  });

  it("/mute web 4h reason: audited before acting, covers the service, listed by /alerts; /unmute lifts it", async () => {
    const { bot, calls, audit, service, store } = await setup();
    const mutes = store.mutes;
    audit.failNext = true;
    await expect(bot.handleUpdate(command("/mute web 4h deploy window"))).rejects.toThrow(/database is down/);
    expect(mutes.size).toBe(0); // no audit, no action
    await bot.handleUpdate(command("/mute web 4h deploy window"));
    expect(audit.events.at(-1)).toMatchObject({ action: "alerts.mute", outcome: "confirmed", args: { name: "web", minutes: 240, reason: "deploy window" } });
    expect(mutes.get("prod:service:web")).toMatchObject({ reason: "deploy window", byUserId: 7 });
    expect(calls.at(-1)!.payload.text).toBe("🔕 Muted web on prod for 4 h (until 2026-11-22 16:00 UTC): deploy window.");
    await bot.handleUpdate(command("/alerts"));
    expect(calls.at(-1)!.payload.text).toContain("1 mute in force:\n🔕 web on prod until 2026-11-22 16:00 UTC, by user 7: deploy window");
    await bot.handleUpdate(command("/unmute web"));
    expect(audit.events.at(-1)).toMatchObject({ action: "alerts.unmute", outcome: "confirmed" });
    expect(mutes.size).toBe(0);
    expect(service.activeMutes()).toEqual([]);
    expect(calls.at(-1)!.payload.text).toBe("🔔 Unmuted web on prod. Alerts about it are sent again.");
  });

  it("/mute refuses unknown names and bad durations (audited as failed, nothing muted)", async () => {
    const { bot, calls, audit, store } = await setup();
    await bot.handleUpdate(command("/mute nosuch 4h"));
    expect(calls.at(-1)!.payload.text).toMatch(/^⛔ "nosuch" is neither a target nor a known service\. Known: prod, web, worker$/);
    await bot.handleUpdate(command("/mute web 8d"));
    expect(calls.at(-1)!.payload.text).toBe("⛔ a mute lasts at most 7 days (7d)");
    await bot.handleUpdate(command("/mute prod 30m"));
    expect(store.mutes.get("prod")).toBeDefined();
    expect(audit.events.map((e) => e.outcome)).toEqual(["failed", "failed", "confirmed"]);
  });
});
