import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { quoteArg, toCommandLine } from "../../src/commands/quote.js";

describe("quoteArg", () => {
  it("leaves plain words bare and single-quotes the rest", () => {
    expect(quoteArg("main")).toBe("main");
    expect(quoteArg("release/v2.1")).toBe("release/v2.1");
    expect(quoteArg("")).toBe("''");
    expect(quoteArg("a b")).toBe("'a b'");
    expect(quoteArg("it's")).toBe(`'it'\\''s'`);
    expect(() => quoteArg("a\0b")).toThrow(/NUL/);
  });

  it("round-trips hostile arguments through a real /bin/sh byte for byte", () => {
    const args = ["$(id)", "`id`", "a'b\"c", "x;y|z&&w", "new\nline", "${IFS}", "*", "~", "\\", "-n", "é€"];
    const out = execFileSync("/bin/sh", ["-c", `printf '%s\\0' ${toCommandLine(args)}`], { encoding: "utf8" });
    expect(out.split("\0").slice(0, -1)).toEqual(args);
  });
});
