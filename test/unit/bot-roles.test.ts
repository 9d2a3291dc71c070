import { describe, expect, it } from "vitest";
import { commandOf } from "../../src/bot/access-gate.js";
import { minimumRole, namesAnyone, refusalText, resolveRole, roleAtLeast, type AccessRules } from "../../src/bot/roles.js";
import { personName } from "../../src/shared/format.js";

const GROUP = -100;
const OTHER_GROUP = -200;
const named: AccessRules = {
  adminChatIds: [GROUP, OTHER_GROUP, 7],
  adminUserIds: [1],
  roles: { "2": "operator", "3": "viewer", "4": "admin" },
  commands: { backup: "admin" },
};
const unnamed: AccessRules = { adminChatIds: [GROUP, 7], adminUserIds: undefined, roles: {}, commands: {} };

describe("resolveRole", () => {
  it("gives each named user their role in every admin chat; ADMIN_USER_IDS means admin", () => {
    for (const chatId of [GROUP, OTHER_GROUP]) {
      expect(resolveRole(named, { chatId, userId: 1 })).toEqual({ allowed: true, role: "admin" });
      expect(resolveRole(named, { chatId, userId: 2 })).toEqual({ allowed: true, role: "operator" });
      expect(resolveRole(named, { chatId, userId: 3 })).toEqual({ allowed: true, role: "viewer" });
      expect(resolveRole(named, { chatId, userId: 4 })).toEqual({ allowed: true, role: "admin" });
    }
  });

  it("access.roles wins over ADMIN_USER_IDS for the same person (it is the more specific setting)", () => {
    const both: AccessRules = { ...named, roles: { "1": "viewer" } };
    expect(resolveRole(both, { chatId: GROUP, userId: 1 })).toEqual({ allowed: true, role: "viewer" });
  });

  it("once anyone is named, everyone else is a stranger everywhere — also in their own private chat", () => {
    expect(resolveRole(named, { chatId: GROUP, userId: 99 })).toEqual({ allowed: false, reason: "unknown_user" });
    expect(resolveRole(named, { chatId: 7, chatType: "private", userId: 7 })).toEqual({ allowed: false, reason: "unknown_user" });
    expect(resolveRole(named, { chatId: -999, userId: 1 })).toEqual({ allowed: false, reason: "unknown_chat" });
    expect(resolveRole(named, { chatId: GROUP, userId: undefined })).toEqual({ allowed: false, reason: "no_sender" });
    // Roles alone (no ADMIN_USER_IDS) also name people.
    expect(namesAnyone({ adminChatIds: [GROUP], adminUserIds: undefined, roles: { "5": "viewer" } })).toBe(true);
    expect(resolveRole({ adminChatIds: [GROUP], adminUserIds: undefined, roles: { "5": "viewer" } }, { chatId: GROUP, userId: 6 })).toMatchObject({ allowed: false });
  });

  it("user ids never resolve through Object.prototype", () => {
    const rules: AccessRules = { adminChatIds: [GROUP], adminUserIds: undefined, roles: { "5": "viewer" } };
    expect(resolveRole(rules, { chatId: GROUP, userId: Number("NaN") })).toMatchObject({ allowed: false });
  });

  it("while nobody is named: group members are viewers, a private admin chat's own user is an admin", () => {
    expect(resolveRole(unnamed, { chatId: GROUP, chatType: "supergroup", userId: 42 })).toEqual({ allowed: true, role: "viewer", cap: "unnamed_group" });
    expect(resolveRole(unnamed, { chatId: 7, chatType: "private", userId: 7 })).toEqual({ allowed: true, role: "admin" });
    expect(resolveRole(unnamed, { chatId: -999, userId: 42 })).toEqual({ allowed: false, reason: "unknown_chat" });
  });

  it("anonymous admins and bots are never operators", () => {
    expect(resolveRole(unnamed, { chatId: GROUP, userId: 1087968824, isBot: true, senderChatId: GROUP })).toEqual({ allowed: true, role: "viewer", cap: "anonymous" });
    expect(resolveRole(named, { chatId: GROUP, userId: 1087968824, isBot: true, senderChatId: GROUP })).toEqual({ allowed: false, reason: "anonymous" });
    // Even an admin's id, when the message is sent on behalf of a chat.
    expect(resolveRole(named, { chatId: GROUP, userId: 1, senderChatId: GROUP })).toEqual({ allowed: false, reason: "anonymous" });
    expect(resolveRole(named, { chatId: GROUP, userId: 1, isBot: true })).toEqual({ allowed: true, role: "viewer", cap: "bot" });
    expect(resolveRole(named, { chatId: GROUP, userId: 3, isBot: true })).toEqual({ allowed: true, role: "viewer" });
  });
});

describe("minimumRole", () => {
  it("follows the default table, with access.commands overrides", () => {
    expect(minimumRole(named, "status")).toBe("viewer");
    expect(minimumRole(named, "logs")).toBe("viewer");
    expect(minimumRole(named, "deploy")).toBe("operator");
    expect(minimumRole(named, "lock")).toBe("operator");
    expect(minimumRole(named, "unlock")).toBe("admin");
    expect(minimumRole(named, "resume_payouts")).toBe("admin");
    expect(minimumRole(named, "restore")).toBe("admin");
    expect(minimumRole(unnamed, "backup")).toBe("operator");
    expect(minimumRole(named, "backup")).toBe("admin");
  });

  it("/audit is a viewer's, /audit verify and /audit digest an admin's", () => {
    expect(minimumRole(named, "audit", "")).toBe("viewer");
    expect(minimumRole(named, "audit", "20")).toBe("viewer");
    expect(minimumRole(named, "audit", "verify")).toBe("admin");
    expect(minimumRole(named, "audit", " Digest")).toBe("admin");
  });

  it("/start is /help; a command missing from the table needs an operator; prototype names are not commands", () => {
    expect(minimumRole(named, "start")).toBe("viewer");
    expect(minimumRole(named, "help")).toBe("viewer");
    expect(minimumRole(named, "freeze_everything")).toBe("operator");
    expect(minimumRole(named, "constructor")).toBe("operator");
    expect(minimumRole({ ...named, commands: {} }, "__proto__")).toBe("operator");
  });
});

describe("texts and helpers", () => {
  it("a refusal names the role needed", () => {
    expect(refusalText("/deploy", "operator", "viewer", undefined)).toBe("⛔ /deploy needs the operator role; you are a viewer.");
    expect(refusalText("/unlock", "admin", "operator", undefined)).toBe("⛔ /unlock needs the admin role; you are an operator.");
    expect(refusalText("/deploy", "operator", "viewer", "anonymous")).toBe("⛔ /deploy needs the operator role; anonymous admins are viewers at most: send it as yourself.");
    expect(refusalText("This button", "operator", "viewer", "bot")).toBe("⛔ This button needs the operator role; bots are viewers at most.");
  });

  it("ranks roles", () => {
    expect(roleAtLeast("admin", "operator")).toBe(true);
    expect(roleAtLeast("operator", "operator")).toBe(true);
    expect(roleAtLeast("viewer", "operator")).toBe(false);
    expect(roleAtLeast("operator", "admin")).toBe(false);
  });

  it("reads the command of a message", () => {
    expect(commandOf("/deploy main")).toEqual({ command: "deploy", args: "main" });
    expect(commandOf("/Audit@opsgram_bot verify")).toEqual({ command: "audit", args: "verify", bot: "opsgram_bot" });
    expect(commandOf("/status")).toEqual({ command: "status", args: "" });
    expect(commandOf("deploy main")).toBeUndefined();
    expect(commandOf(undefined)).toBeUndefined();
  });

  it("shows people as @username or user <id>, never by first name", () => {
    expect(personName({ userId: 5, username: "alice" })).toBe("@alice");
    expect(personName({ userId: 5, username: null })).toBe("user 5");
    expect(personName({ userId: null, username: null })).toBe("someone");
  });
});
