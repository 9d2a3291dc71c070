import { describe, expect, it } from "vitest";
import {
  gitCheckoutDetached,
  gitDescribeExactTag,
  gitFetch,
  gitHead,
  gitLogBetween,
  gitRevParse,
  gitStatusPorcelain,
  parseGitHead,
  parseGitLog,
  parseRevParse,
  refCandidates,
} from "../../src/commands/git.js";

const SHA_A = "1111111111111111111111111111111111111111";
const SHA_B = "2222222";

describe("git builders", () => {
  it("fetch forces tags, prunes and maps every branch to refs/remotes/<remote>", () => {
    expect(gitFetch("origin")).toEqual([
      "git", "fetch", "--prune", "--tags", "--force", "--end-of-options", "origin", "+refs/heads/*:refs/remotes/origin/*",
    ]);
    expect(() => gitFetch("--upload-pack=x")).toThrow(TypeError);
  });

  it("resolves a ref as remote branch, then tag, then sha", () => {
    expect(refCandidates("origin", "main")).toEqual(["refs/remotes/origin/main", "refs/tags/main"]);
    expect(refCandidates("origin", "abc1234")).toEqual(["refs/remotes/origin/abc1234", "refs/tags/abc1234", "abc1234"]);
    expect(() => refCandidates("origin", "-x")).toThrow(TypeError);
  });

  it("rev-parse verifies quietly and peels to a commit", () => {
    expect(gitRevParse("refs/tags/v1")).toEqual([
      "git", "rev-parse", "--verify", "--quiet", "--end-of-options", "refs/tags/v1^{commit}",
    ]);
    expect(() => gitRevParse("--all")).toThrow(TypeError);
  });

  it("checks out a sha detached and forced", () => {
    expect(gitCheckoutDetached(SHA_A)).toEqual([
      "git", "-c", "advice.detachedHead=false", "checkout", "--detach", "--force", SHA_A, "--",
    ]);
    expect(() => gitCheckoutDetached("main")).toThrow(TypeError);
    expect(() => gitCheckoutDetached("ABCDEF1")).toThrow(TypeError);
  });

  it("logs the commits between two shas", () => {
    expect(gitLogBetween(SHA_B, SHA_A)).toEqual([
      "git", "log", "--format=%h%x09%s", "--max-count=20", "--end-of-options", `${SHA_B}..${SHA_A}`,
    ]);
    expect(gitLogBetween(SHA_B, SHA_A, 5)[3]).toBe("--max-count=5");
    expect(() => gitLogBetween("main", SHA_A)).toThrow(TypeError);
    expect(() => gitLogBetween(SHA_B, SHA_A, 0)).toThrow(TypeError);
  });

  it("reads head, exact tag and status", () => {
    expect(gitHead()).toEqual(["git", "log", "-1", "--format=%H%x09%h%x09%s", "--end-of-options", "HEAD"]);
    expect(gitDescribeExactTag()).toEqual(["git", "describe", "--tags", "--exact-match", "--end-of-options", "HEAD"]);
    expect(gitStatusPorcelain()).toEqual(["git", "status", "--porcelain", "--untracked-files=no"]);
  });
});

describe("git output parsers", () => {
  it("parses head", () => {
    expect(parseGitHead(`${SHA_A}\t1111111\tFix: a\tb\n`)).toEqual({ sha: SHA_A, shortSha: "1111111", subject: "Fix: a\tb" });
    expect(parseGitHead("fatal: not a git repository")).toBeNull();
  });
  it("parses log lines", () => {
    expect(parseGitLog("abc1234\tfirst\ndef5678\tsecond: x\n\n")).toEqual([
      { shortSha: "abc1234", subject: "first" },
      { shortSha: "def5678", subject: "second: x" },
    ]);
  });
  it("parses rev-parse", () => {
    expect(parseRevParse(`${SHA_A}\n`)).toBe(SHA_A);
    expect(parseRevParse("")).toBeNull();
  });
});
