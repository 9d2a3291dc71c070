import { describe, expect, it } from "vitest";
import { cronProblem } from "../../src/config/cron.js";
import { isWholeAnchored, regexProblem } from "../../src/config/patterns.js";
import { fillPlaceholders, placeholdersIn, placeholdersInsideQuotes } from "../../src/config/placeholders.js";

describe("placeholders", () => {
  it("finds {name} but not the shell's ${NAME}", () => {
    expect(placeholdersIn("a {x} ${HOME} {y_1} {x} {1bad} { z }")).toEqual(["x", "y_1", "x"]);
  });

  it("fills every placeholder and refuses one without a value", () => {
    expect(fillPlaceholders("rclone copy {path} ${R}:b/{path}", { path: "'/v/a b'" })).toBe("rclone copy '/v/a b' ${R}:b/'/v/a b'");
    expect(() => fillPlaceholders("x {tenant}", { path: "p" })).toThrow("no value for placeholder {tenant}");
    expect(() => fillPlaceholders("x {constructor}", {})).toThrow("no value for placeholder {constructor}");
  });
});

describe("argument patterns", () => {
  it("knows an anchored whole from a partial anchor", () => {
    expect(isWholeAnchored("^[a-z]{1,32}$")).toBe(true);
    expect(isWholeAnchored("^(?:a|b)$")).toBe(true);
    expect(isWholeAnchored("^[$|(]$")).toBe(true);
    expect(isWholeAnchored("^a\\\\$")).toBe(true);
    expect(isWholeAnchored("^a|b$")).toBe(false);
    expect(isWholeAnchored("^a\\$")).toBe(false);
    expect(isWholeAnchored("a$")).toBe(false);
  });

  it("reports why a pattern does not compile", () => {
    expect(regexProblem("^[0-9]+$")).toBeNull();
    expect(regexProblem("^(a$")).toMatch(/Unterminated group/);
  });
});

describe("cron expressions", () => {
  it("accepts five fields and nicknames, refuses the rest", () => {
    expect(cronProblem("0 3 * * *")).toBeNull();
    expect(cronProblem("*/15 * * * 1-5")).toBeNull();
    expect(cronProblem("@weekly")).toBeNull();
    expect(cronProblem("0 0 3 * * *")).toMatch(/five fields/);
    expect(cronProblem("0 25 * * *")).toMatch(/hour/i);
    expect(cronProblem("@sometimes")).not.toBeNull();
  });
});

describe("placeholders inside shell quotes", () => {
  it("finds {x} inside single or double quotes, not outside or after an escaped quote", () => {
    expect(placeholdersInsideQuotes(`psql -c "select {id}" {a} '{b}' \\"{c}\\" "it's {d}" 'x'{e}`)).toEqual(["id", "b", "d"]);
    expect(placeholdersInsideQuotes("manage revoke {tenant} {key_id}")).toEqual([]);
  });
});
