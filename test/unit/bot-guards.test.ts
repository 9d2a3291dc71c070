import { describe, expect, it } from "vitest";
import { decideAccess } from "../../src/bot/allowlist.js";
import { RateWindow } from "../../src/bot/rate-window.js";
import { SeenUpdates } from "../../src/bot/seen-updates.js";

describe("decideAccess", () => {
  const chatOnly = { adminChatIds: [-100, 42], adminUserIds: undefined };
  const withUsers = { adminChatIds: [-100], adminUserIds: [7] };

  it("allows admin chats and refuses others", () => {
    expect(decideAccess(chatOnly, -100, 1)).toEqual({ allowed: true });
    expect(decideAccess(chatOnly, 42, 42)).toEqual({ allowed: true });
    expect(decideAccess(chatOnly, -101, 1)).toEqual({ allowed: false, reason: "unknown_chat" });
    expect(decideAccess(chatOnly, undefined, 1)).toEqual({ allowed: false, reason: "unknown_chat" });
  });

  it("with ADMIN_USER_IDS, a stranger in an admin group is refused", () => {
    expect(decideAccess(withUsers, -100, 7)).toEqual({ allowed: true });
    expect(decideAccess(withUsers, -100, 8)).toEqual({ allowed: false, reason: "unknown_user" });
    expect(decideAccess(withUsers, -100, undefined)).toEqual({ allowed: false, reason: "no_sender" });
    expect(decideAccess(withUsers, 7, 7)).toEqual({ allowed: false, reason: "unknown_chat" });
  });
});

describe("RateWindow", () => {
  it("lets a key through once per window", () => {
    const w = new RateWindow(60_000);
    expect(w.tryPass("a", 0)).toBe(true);
    expect(w.tryPass("a", 59_999)).toBe(false);
    expect(w.tryPass("b", 1)).toBe(true);
    expect(w.tryPass("a", 60_000)).toBe(true);
    expect(w.tryPass("a", 60_001)).toBe(false);
  });

  it("stays bounded under a flood of distinct keys", () => {
    const w = new RateWindow(60_000, 100);
    for (let i = 0; i < 10_000; i++) w.tryPass(`k${i}`, i);
    // The most recent keys are still remembered; memory holds at most ~maxKeys entries.
    expect(w.tryPass("k9999", 10_000)).toBe(false);
    expect((w as unknown as { last: Map<string, number> }).last.size).toBeLessThanOrEqual(101);
  });
});

describe("SeenUpdates", () => {
  it("reports each id once and forgets the oldest beyond capacity", () => {
    const seen = new SeenUpdates(3);
    expect(seen.firstTime(1)).toBe(true);
    expect(seen.firstTime(1)).toBe(false);
    seen.firstTime(2);
    seen.firstTime(3);
    seen.firstTime(4);
    expect(seen.firstTime(4)).toBe(false);
    expect(seen.firstTime(1)).toBe(true);
  });
});
