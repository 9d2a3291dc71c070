import { describe, expect, it } from "vitest";
import { BUTTON_DATA_PATTERN, ROLLBACK_LIST_PATTERN, ROLLBACK_TO_PATTERN, confirmButtons, parseButtonData } from "../../src/bot/operations/callback-data.js";
import { cleanReason, commandWords, parse, rollbackTarget, TargetNames } from "../../src/bot/operations/parse.js";
import { createOperations } from "../../src/operations/index.js";
import { lookupTarget } from "../../src/operations/targets.js";
import { alice, chatOf, makeDeps, opsConfig } from "./operations-fakes.js";

const two = new TargetNames(["prod", "staging"]);

describe("chat words → typed requests", () => {
  it("takes the target from the last word when it names one, else the first configured target", () => {
    expect(parse.deploy(two, ["main"])).toEqual({ ok: true, value: { target: "prod", input: ["main"], ref: "main" } });
    expect(parse.deploy(two, ["main", "staging"])).toMatchObject({ ok: true, value: { target: "staging", ref: "main" } });
    expect(parse.rollback(two, ["staging"])).toMatchObject({ ok: true, value: { target: "staging", to: { kind: "last" } } });
    expect(parse.rollback(two, ["#12"])).toMatchObject({ ok: true, value: { target: "prod", to: { kind: "deployment", id: 12 } } });
    expect(parse.logs(two, ["web", "20", "staging"])).toMatchObject({ ok: true, value: { target: "staging", services: ["web"], lines: "20" } });
    expect(parse.logs(two, ["web"])).toMatchObject({ ok: true, value: { target: "prod", services: ["web"], lines: undefined } });
  });

  it("logs: several services, since= and grep= in any place", () => {
    expect(parse.logs(two, ["api,worker", "since=15m", "100", "grep=err(or)?", "staging"])).toEqual({
      ok: true,
      value: { target: "staging", input: ["api,worker", "since=15m", "100", "grep=err(or)?", "staging"], services: ["api", "worker"], lines: "100", since: "15m", grep: "err(or)?" },
    });
  });

  it("scale: one service as two words, or several as name=count pairs", () => {
    expect(parse.scale(two, ["worker", "3"])).toMatchObject({ ok: true, value: { target: "prod", changes: [{ service: "worker", replicas: "3" }] } });
    expect(parse.scale(two, ["api=2", "worker=3", "staging"])).toMatchObject({ ok: true, value: { target: "staging", changes: [{ service: "api", replicas: "2" }, { service: "worker", replicas: "3" }] } });
    expect(parse.scale(two, ["worker=2"])).toMatchObject({ ok: true, value: { target: "prod", changes: [{ service: "worker", replicas: "2" }] } });
    expect(parse.scale(two, ["=2"])).toMatchObject({ ok: false });
    expect(parse.scale(two, ["api=2", "nowhere"])).toMatchObject({ ok: false, reason: expect.stringContaining("Unknown target") });
  });

  it("run: nothing lists, a name with args, a leading target", () => {
    expect(parse.run(two, [])).toMatchObject({ ok: true, value: { target: "prod", name: null, args: [] } });
    expect(parse.run(two, ["revoke_key", "acme", "12"])).toMatchObject({ ok: true, value: { target: "prod", name: "revoke_key", args: ["acme", "12"] } });
    expect(parse.run(two, ["staging", "orders_today"])).toMatchObject({ ok: true, value: { target: "staging", name: "orders_today", args: [] } });
    expect(parse.restart(two, ["web", "staging"])).toMatchObject({ ok: true, value: { target: "staging", service: "web" } });
  });

  it("says what is wrong with the shape: usage, too many words, an unknown target", () => {
    expect(parse.deploy(two, [])).toEqual({ ok: false, reason: "Usage: /deploy <branch|tag> [target]" });
    expect(parse.scale(two, ["w", "2", "prod", "x"])).toMatchObject({ ok: false, reason: expect.stringMatching(/^Too many arguments/) });
    expect(parse.deploy(two, ["main", "qa"])).toEqual({ ok: false, reason: 'Unknown target "qa". Known targets: prod, staging.' });
    expect(parse.backup(new TargetNames([]), [])).toEqual({ ok: false, reason: "No targets are configured in opsgram.yml." });
  });

  it("a name from Object.prototype is an unknown target, not a member lookup", () => {
    for (const word of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      expect(parse.status(two, [word])).toMatchObject({ ok: false, reason: expect.stringContaining("Unknown target") });
      // Not taken for a reason on the default target: /lock __proto__ must not freeze prod.
      expect(parse.lock(two, [word])).toMatchObject({ ok: false, reason: expect.stringContaining("Unknown target") });
      expect(parse.pausePayouts(two, [word, "reason"])).toMatchObject({ ok: false, reason: expect.stringContaining("Unknown target") });
    }
    const deps = makeDeps().deps;
    expect(lookupTarget(deps, "constructor")).toBeNull();
    expect(lookupTarget(deps, "__proto__")).toBeNull();
    expect(lookupTarget(deps, "prod")?.name).toBe("prod");
  });

  it("a one-word reason that is not a prototype name still locks the default target", () => {
    expect(parse.lock(two, ["maintenance"])).toMatchObject({ ok: true, value: { target: "prod", reason: "maintenance" } });
  });

  it("/status constructor answers that the target is unknown", async () => {
    const ops = createOperations(makeDeps({ config: opsConfig() }).deps);
    expect(await chatOf(ops).statusOf(alice, ["constructor"])).toEqual({ status: "refused", reason: 'Unknown target "constructor". Known targets: prod.' });
  });

  it("free-text reasons lose control characters and are bounded; rollback words read as #id or a commit", () => {
    expect(cleanReason(["fraud\u0000spike", "\u202eon", "card"])).toBe("fraud spike on card");
    expect(cleanReason([])).toBeNull();
    expect(cleanReason(["x".repeat(300)])!.length).toBe(200);
    expect(rollbackTarget("1234567")).toEqual({ kind: "sha", sha: "1234567" });
    expect(rollbackTarget("123456")).toEqual({ kind: "deployment", id: 123456 });
    expect(commandWords("  main\t prod \n")).toEqual(["main", "prod"]);
  });
});

describe("button data", () => {
  it("is ours only when it matches exactly and fits Telegram's 64 bytes", () => {
    const id = "AbCdEfGhIjKlMn_-";
    const [confirm, cancel] = confirmButtons(id)[0]!;
    expect(parseButtonData(confirm!.data)).toEqual({ action: "confirm", operationId: id });
    expect(parseButtonData(cancel!.data)).toEqual({ action: "cancel", operationId: id });
    for (const b of [confirm!, cancel!]) expect(Buffer.byteLength(b.data)).toBeLessThanOrEqual(64);
    expect(parseButtonData("op:c:../../etc")).toBeNull();
    expect(parseButtonData(`op:c:${id}x`)).toBeNull();
    expect(parseButtonData(`op:c:${"a".repeat(70)}`)).toBeNull();
    expect(BUTTON_DATA_PATTERN.test(`op:x:${id}`)).toBe(true);
  });

  it("a rollback plan with a backupFirst dump: [Code only], [Code + restore DB], [Cancel], [Choose another…]", () => {
    const id = "AbCdEfGhIjKlMn_-";
    const rows = confirmButtons(id, { file: "prod-20261122T030405Z.dump" }, true);
    expect(rows.map((r) => r.map((b) => b.text))).toEqual([["↩ Code only"], ["↩ Code + restore DB from prod-20261122T030405Z.dump"], ["✖ Cancel"], ["Choose another…"]]);
    expect(parseButtonData(rows[0]![0]!.data)).toEqual({ action: "confirm", operationId: id });
    expect(parseButtonData(rows[1]![0]!.data)).toEqual({ action: "confirm", operationId: id, restoreDatabase: true });
    for (const b of rows.flat()) expect(Buffer.byteLength(b.data)).toBeLessThanOrEqual(64);
    expect(ROLLBACK_LIST_PATTERN.exec(rows[3]![0]!.data)?.[1]).toBe(id);
    expect(ROLLBACK_TO_PATTERN.exec(`rb:t:12:${"a".repeat(40)}`)?.slice(1)).toEqual(["12", "a".repeat(40)]);
  });
});
