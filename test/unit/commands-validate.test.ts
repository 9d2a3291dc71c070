import { describe, expect, it } from "vitest";
import {
  validateCount,
  validateLogLines,
  validateRef,
  validateServiceName,
  validateSha,
} from "../../src/commands/validate.js";
import { INJECTION_PAYLOADS } from "../support/injection-corpus.js";

const DEFAULT_ALLOWED = "^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$";
const SERVICES = ["web", "worker"];

describe("validateRef", () => {
  it.each(["main", "release/v2.1", "v1.2.3", "feature/JIRA-123_fix", "a", "x".repeat(100)])("accepts %s", (ref) => {
    expect(validateRef(ref, DEFAULT_ALLOWED)).toEqual({ ok: true, value: ref });
  });

  it.each([
    ["main..x", "'..'"],
    ["-main", "start with '-'"],
    ["/main", "start with '/'"],
    [".main", "start with '.'"],
    ["release/.x", "start with '.'"],
    ["main/", "end with '/'"],
    ["main.", "end with '.'"],
    ["main.lock", ".lock"],
    ["a.lock/b", ".lock"],
    ["a//b", "'//'"],
    ["main@{1}", "ASCII letters"],
    ["ma in", "ASCII letters"],
    ["x".repeat(101), "at most 100"],
  ])("refuses %j with a reason naming the rule", (ref, reasonPart) => {
    const result = validateRef(ref, DEFAULT_ALLOWED);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reasonPart);
  });

  it("applies the configured allowedRefs to the whole ref", () => {
    expect(validateRef("main", "main|release/.*").ok).toBe(true);
    expect(validateRef("release/v2", "main|release/.*").ok).toBe(true);
    const partial = validateRef("xmain", "main|release/.*");
    expect(partial).toEqual({ ok: false, reason: expect.stringContaining("not allowed on this target") });
    expect(validateRef("main", /^v\d+/).ok).toBe(false);
  });

  it("keeps git and alphabet rules even when allowedRefs allows everything", () => {
    expect(validateRef("main;id", ".*").ok).toBe(false);
    expect(validateRef("a..b", ".*").ok).toBe(false);
    expect(validateRef("-x", ".*").ok).toBe(false);
  });

  it("does not echo control characters back in the reason", () => {
    const result = validateRef("a\nb\u001b[31m", ".*");
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).not.toMatch(/[\n\u001b]/);
  });
});

describe("validateSha", () => {
  it("accepts 7–40 hex digits and lower-cases them", () => {
    expect(validateSha("abc1234")).toEqual({ ok: true, value: "abc1234" });
    expect(validateSha("ABCDEF1234")).toEqual({ ok: true, value: "abcdef1234" });
    expect(validateSha("a".repeat(40)).ok).toBe(true);
  });
  it.each(["abc123", "a".repeat(41), "g123456", "abc1234 ", "HEAD", "main"])("refuses %j", (sha) => {
    expect(validateSha(sha)).toEqual({ ok: false, reason: expect.any(String) });
  });
});

describe("validateServiceName", () => {
  it("accepts configured services only (array or config record)", () => {
    expect(validateServiceName("web", SERVICES)).toEqual({ ok: true, value: "web" });
    expect(validateServiceName("worker", { web: {}, worker: {} })).toEqual({ ok: true, value: "worker" });
    expect(validateServiceName("Web", SERVICES).ok).toBe(false);
    expect(validateServiceName("db", SERVICES)).toEqual({
      ok: false,
      reason: 'unknown service "db"; configured services: web, worker',
    });
    expect(validateServiceName("web", []).ok).toBe(false);
  });
});

describe("validateCount", () => {
  it("accepts ASCII digits within bounds", () => {
    expect(validateCount("3", 0, 10)).toEqual({ ok: true, value: 3 });
    expect(validateCount("0", 0, 10)).toEqual({ ok: true, value: 0 });
    expect(validateCount("10", 0, 10)).toEqual({ ok: true, value: 10 });
  });
  it.each(["11", "-1", "+1", " 1", "1 ", "1.0", "1e1", "0x1", "\uFF11", "\u0661", "", "9999999"])("refuses %j", (text) => {
    expect(validateCount(text, 0, 10).ok).toBe(false);
  });
  it("explains the range", () => {
    expect(validateCount("11", 1, 10)).toEqual({ ok: false, reason: "11 is out of range: allowed 1 to 10" });
  });
});

describe("validateLogLines", () => {
  it("accepts 1..max", () => {
    expect(validateLogLines("200")).toEqual({ ok: true, value: 200 });
    expect(validateLogLines("0").ok).toBe(false);
    expect(validateLogLines("500").ok).toBe(true);
    expect(validateLogLines("501").ok).toBe(false);
    expect(validateLogLines("50", 20).ok).toBe(false);
  });
});

describe("injection corpus", () => {
  it("has at least 30 payloads", () => {
    expect(INJECTION_PAYLOADS.length).toBeGreaterThanOrEqual(30);
  });

  describe.each(INJECTION_PAYLOADS.map((p) => [p.name, p.value] as const))("payload %s", (_name, value) => {
    it("is refused by every validator", () => {
      expect(validateRef(value, DEFAULT_ALLOWED).ok).toBe(false);
      // Even a careless allowedRefs does not let it through.
      expect(validateRef(value, ".*").ok).toBe(false);
      expect(validateSha(value).ok).toBe(false);
      expect(validateServiceName(value, SERVICES).ok).toBe(false);
      expect(validateCount(value, 0, 100).ok).toBe(false);
      expect(validateLogLines(value).ok).toBe(false);
    });
  });
});
