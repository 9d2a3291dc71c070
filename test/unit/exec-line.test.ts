import { describe, expect, it } from "vitest";
import { loggableProgram, remoteCommandLine, shellArgv, wrapArgv } from "../../src/commands/exec-line.js";
import { parseSshHost } from "../../src/infra/targets.js";

describe("exec wrapping", () => {
  it("plain line", () => {
    expect(shellArgv("echo hi")).toEqual(["sh", "-c", "echo hi"]);
    expect(wrapArgv("echo hi")).toEqual(["sh", "-c", "echo hi"]);
  });

  it("cwd travels as an argument, and guards the line with &&", () => {
    expect(shellArgv("a; b", "/srv/app")).toEqual(["sh", "-c", 'cd -- "$1" && exec sh -c "$2"', "sh", "/srv/app", "a; b"]);
  });

  it("timeout, env and cwd together, in that order", () => {
    expect(wrapArgv("make", { cwd: "/srv", env: { A: "1", B_2: "x y" }, timeoutSeconds: 30 })).toEqual([
      "timeout", "-s", "TERM", "-k", "5", "30",
      "env", "A=1", "B_2=x y",
      "sh", "-c", 'cd -- "$1" && exec sh -c "$2"', "sh", "/srv", "make",
    ]);
    expect(wrapArgv("x", { timeoutSeconds: 2, killAfterSeconds: 1 }).slice(0, 6)).toEqual(["timeout", "-s", "TERM", "-k", "1", "2"]);
  });

  it("the remote line execs timeout so channel signals reach it", () => {
    expect(remoteCommandLine("echo 'hi'", { timeoutSeconds: 5 })).toBe(`exec timeout -s TERM -k 5 5 sh -c 'echo '\\''hi'\\'''`);
  });

  it.each([["a-b"], ["1A"], ["a"], ["A B"], [""], ["A=B"]])("refuses env name %j", (name) => {
    expect(() => wrapArgv("x", { env: { [name]: "v" } })).toThrow(TypeError);
  });

  it("refuses bad timeouts and empty input", () => {
    expect(() => wrapArgv("x", { timeoutSeconds: 0 })).toThrow(TypeError);
    expect(() => wrapArgv("x", { timeoutSeconds: 1.5 })).toThrow(TypeError);
    expect(() => shellArgv("")).toThrow(TypeError);
    expect(() => shellArgv("x", "")).toThrow(TypeError);
  });
});

describe("parseSshHost", () => {
  it("reads user, host and port", () => {
    expect(parseSshHost("ssh://deploy@vps.example.com")).toEqual({ username: "deploy", host: "vps.example.com", port: 22 });
    expect(parseSshHost("ssh://root@127.0.0.1:2222")).toEqual({ username: "root", host: "127.0.0.1", port: 2222 });
    expect(() => parseSshHost("ssh://root@h:70000")).toThrow(TypeError);
    expect(() => parseSshHost("root@h")).toThrow(TypeError);
  });
});

describe("expandHome", () => {
  it("expands ~ like ssh's IdentityFile", async () => {
    const { expandHome } = await import("../../src/infra/ssh/connection.js");
    const { homedir } = await import("node:os");
    expect(expandHome("~/.ssh/id_ed25519")).toBe(`${homedir()}/.ssh/id_ed25519`);
    expect(expandHome("~")).toBe(homedir());
    expect(expandHome("/etc/key")).toBe("/etc/key");
    expect(expandHome("~other/key")).toBe("~other/key");
  });
});

describe("loggableProgram", () => {
  it("names the program and never an inline assignment's value", () => {
    expect(loggableProgram("docker compose up -d")).toBe("docker");
    expect(loggableProgram("  PGPASSWORD=hunter2 ./migrate")).toBe("(env assignment)");
    expect(loggableProgram("")).toBe("");
  });
});
