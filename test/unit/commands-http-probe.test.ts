import { describe, expect, it } from "vitest";
import { httpProbeArgv, lastHttpStatus } from "../../src/commands/http-probe.js";
import { isHealthy, unhealthyWord } from "../../src/shared/containers.js";

describe("the HTTP probe on a target", () => {
  it("is one wget argv with whole seconds (at least 1) and no retries", () => {
    expect(httpProbeArgv("http://127.0.0.1:8080/health", 0.4)).toEqual(["wget", "-S", "-O", "/dev/null", "--tries=1", "-T", "1", "http://127.0.0.1:8080/health"]);
    expect(httpProbeArgv("http://x/", 4.5)).toContain("5");
  });

  it("reads the last status line (redirects print several), or null when there was no answer", () => {
    expect(lastHttpStatus("  HTTP/1.1 301 Moved\n  HTTP/1.1 200 OK\n")).toBe(200);
    expect(lastHttpStatus("wget: server returned error: HTTP/1.0 500 Internal Server Error")).toBe(500);
    expect(lastHttpStatus("wget: can't connect to remote host")).toBeNull();
  });
});

describe("the one 'container is healthy' rule", () => {
  it("running with a passed or no healthcheck; starting is not healthy yet", () => {
    expect(isHealthy({ state: "running", health: "healthy" })).toBe(true);
    expect(isHealthy({ state: "running", health: "none" })).toBe(true);
    expect(isHealthy({ state: "running", health: "starting" })).toBe(false);
    expect(isHealthy({ state: "running", health: "unhealthy" })).toBe(false);
    expect(isHealthy({ state: "exited", health: "none" })).toBe(false);
    expect(unhealthyWord({ state: "running", health: "starting" })).toBe("starting");
    expect(unhealthyWord({ state: "exited", health: "healthy" })).toBe("exited");
  });
});
