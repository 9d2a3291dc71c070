import { describe, expect, it } from "vitest";
import {
  composeBase,
  composeBuild,
  composeLogs,
  composeProjectName,
  composePs,
  composeRestart,
  composeScale,
  composeUp,
  type ComposeSpec,
} from "../../src/commands/compose.js";

const v2: ComposeSpec = { command: "docker compose", files: ["docker-compose.yml", "docker-compose.prod.yml"], project: "shop" };
const v1: ComposeSpec = { command: "docker-compose", files: [] };

describe("compose builders", () => {
  it("base argv for v2 and v1", () => {
    expect(composeBase(v2)).toEqual([
      "docker", "compose", "-f", "docker-compose.yml", "-f", "docker-compose.prod.yml", "-p", "shop",
    ]);
    expect(composeBase(v1)).toEqual(["docker-compose"]);
    expect(() => composeBase({ ...v1, project: "-x" })).toThrow(TypeError);
  });

  it("build", () => {
    expect(composeBuild(v1)).toEqual(["docker-compose", "build"]);
    expect(composeBuild(v1, ["web"])).toEqual(["docker-compose", "build", "web"]);
  });

  it("up -d with options", () => {
    expect(composeUp(v1)).toEqual(["docker-compose", "up", "-d"]);
    expect(composeUp(v1, { noDeps: true, build: true, removeOrphans: true, services: ["web", "worker"] })).toEqual([
      "docker-compose", "up", "-d", "--no-deps", "--build", "--remove-orphans", "web", "worker",
    ]);
  });

  it("scale one service without recreating the rest", () => {
    expect(composeScale(v1, "worker", 3)).toEqual([
      "docker-compose", "up", "-d", "--no-recreate", "--scale", "worker=3", "worker",
    ]);
    expect(composeScale(v1, "worker", 0)[5]).toBe("worker=0");
    expect(() => composeScale(v1, "worker", -1)).toThrow(TypeError);
    expect(() => composeScale(v1, "worker", 1.5)).toThrow(TypeError);
  });

  it("ps, logs, restart", () => {
    expect(composePs(v1)).toEqual(["docker-compose", "ps"]);
    expect(composePs(v1, { all: true, services: ["web"] })).toEqual(["docker-compose", "ps", "-a", "web"]);
    expect(composeLogs(v1, "web", 50)).toEqual(["docker-compose", "logs", "--no-color", "--tail", "50", "web"]);
    expect(composeRestart(v1, "web")).toEqual(["docker-compose", "restart", "web"]);
    expect(() => composeLogs(v1, "web", 0)).toThrow(TypeError);
  });

  it.each(["--scale", "-f", "web;id", "Web", "", "$(id)"])("refuses service name %j", (bad) => {
    expect(() => composeUp(v1, { services: [bad] })).toThrow(TypeError);
    expect(() => composeScale(v1, bad, 1)).toThrow(TypeError);
    expect(() => composeLogs(v1, bad, 1)).toThrow(TypeError);
  });
});

describe("composeProjectName", () => {
  const compose = (command: ComposeSpec["command"], files: string[] = [], project?: string) => ({ command, files, project });

  it("uses the explicit project", () => {
    expect(composeProjectName({ appDir: "/srv/App", compose: compose("docker-compose", [], "shop") })).toBe("shop");
  });
  it("derives it from appDir like compose does", () => {
    expect(composeProjectName({ appDir: "/opt/Quiz-Arena_2.0/", compose: compose("docker-compose") })).toBe("quiz-arena_20");
    expect(composeProjectName({ appDir: "/opt/_app", compose: compose("docker-compose") })).toBe("_app");
    expect(composeProjectName({ appDir: "/opt/_app", compose: compose("docker compose") })).toBe("app");
  });
  it("uses the directory of the first compose file", () => {
    expect(composeProjectName({ appDir: "/opt/app", compose: compose("docker-compose", ["deploy/prod.yml"]) })).toBe("deploy");
    expect(composeProjectName({ appDir: "/opt/app", compose: compose("docker-compose", ["/etc/stack/x.yml"]) })).toBe("stack");
    expect(composeProjectName({ appDir: "/opt/app", compose: compose("docker-compose", ["prod.yml"]) })).toBe("app");
  });
  it("refuses a dir that yields no name", () => {
    expect(() => composeProjectName({ appDir: "/opt/...", compose: compose("docker-compose") })).toThrow(/set compose.project/);
  });
});
