import { describe, expect, it } from "vitest";
import { formatAge, freshCommandsOnly, inOrderPerChat, staleText } from "../../src/bot/freshness.js";
import type { BotContext } from "../../src/bot/context.js";
import type { AuditEvent, AuditEventInput, AuditLog } from "../../src/shared/ports.js";

const silentLog = { info() {}, debug() {}, warn() {}, error() {} } as unknown as BotContext["log"];

function fakeAudit(): AuditLog & { events: AuditEventInput[] } {
  const events: AuditEventInput[] = [];
  return {
    events,
    append: async (e) => {
      events.push(e);
      return { ...e, id: events.length, createdAt: new Date(0), prevHash: "", hash: "" } as AuditEvent;
    },
    recent: async () => [],
  };
}

/** Just enough of a grammY context for the middleware under test. */
function messageCtx(text: string, dateS: number, chatId = -100, userId = 7) {
  const replies: string[] = [];
  const ctx = {
    message: { message_id: 1, date: dateS, text, chat: { id: chatId }, from: { id: userId } },
    chat: { id: chatId },
    from: { id: userId, username: "oncall" },
    log: silentLog,
    reply: async (t: string) => {
      replies.push(t);
    },
  } as unknown as BotContext;
  return { ctx, replies };
}

describe("freshCommandsOnly", () => {
  const NOW_S = 1_800_000_000;

  it("runs a fresh command and refuses one older than staleCommandSeconds, telling the chat", async () => {
    const audit = fakeAudit();
    const mw = freshCommandsOnly({ staleSeconds: 120, audit, now: () => NOW_S * 1000 });
    let ran = 0;
    const fresh = messageCtx("/deploy main", NOW_S - 120);
    await mw(fresh.ctx, async () => void ran++);
    expect(ran).toBe(1);
    expect(fresh.replies).toEqual([]);

    const stale = messageCtx("/deploy@opsgram_bot main", NOW_S - 14 * 60);
    await mw(stale.ctx, async () => void ran++);
    expect(ran).toBe(1);
    expect(stale.replies).toEqual(["ignored /deploy main, sent 14 min ago while opsgram was offline; send it again"]);
    expect(audit.events).toEqual([
      expect.objectContaining({ action: "deploy", outcome: "denied", chatId: -100, userId: 7, detail: { reason: "stale", ageSeconds: 840, maxAgeSeconds: 120 } }),
    ]);
  });

  it("refusals are rate-limited per chat like other refusals; plain text and buttons pass", async () => {
    const audit = fakeAudit();
    let now = NOW_S * 1000;
    const mw = freshCommandsOnly({ staleSeconds: 120, audit, now: () => now });
    const a = messageCtx("/unlock prod", NOW_S - 3600);
    const b = messageCtx("/lock prod incident", NOW_S - 3590);
    await mw(a.ctx, async () => expect.fail("stale command ran"));
    await mw(b.ctx, async () => expect.fail("stale command ran"));
    expect([...a.replies, ...b.replies]).toHaveLength(1);
    expect(audit.events).toHaveLength(1);
    now += 60_000;
    const c = messageCtx("/backup", NOW_S - 7200);
    await mw(c.ctx, async () => expect.fail("stale command ran"));
    expect(c.replies).toEqual(["ignored /backup, sent 2 h ago while opsgram was offline; send it again"]);

    let passed = 0;
    const plain = messageCtx("hello", NOW_S - 7200);
    await mw(plain.ctx, async () => void passed++);
    const press = { callbackQuery: { data: "op:c:x" }, chat: { id: -100 }, log: silentLog } as unknown as BotContext;
    await mw(press, async () => void passed++);
    expect(passed).toBe(2);
  });

  it("formats ages to the unit a person cares about", () => {
    expect(formatAge(45_000)).toBe("45 s");
    expect(formatAge(14 * 60_000 + 30_000)).toBe("14 min");
    expect(formatAge(3 * 3_600_000)).toBe("3 h");
    expect(formatAge(3 * 86_400_000)).toBe("3 d");
    expect(staleText("/backup", 600_000)).toBe("ignored /backup, sent 10 min ago while opsgram was offline; send it again");
  });
});

describe("inOrderPerChat", () => {
  it("runs one chat's updates one after another, other chats in parallel", async () => {
    const mw = inOrderPerChat();
    const order: string[] = [];
    let releaseFirst!: () => void;
    const firstBlocked = new Promise<void>((r) => (releaseFirst = r));
    const ctx = (chat: number) => ({ chat: { id: chat } }) as unknown as BotContext;

    const first = mw(ctx(1), async () => {
      order.push("chat1:first:start");
      await firstBlocked;
      order.push("chat1:first:end");
    });
    const second = mw(ctx(1), async () => void order.push("chat1:second"));
    const other = mw(ctx(2), async () => void order.push("chat2"));
    await other; // chat 2 is not held back by chat 1's slow update
    expect(order).toEqual(["chat1:first:start", "chat2"]);
    releaseFirst();
    await Promise.all([first, second]);
    expect(order).toEqual(["chat1:first:start", "chat2", "chat1:first:end", "chat1:second"]);
  });
});
