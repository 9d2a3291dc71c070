import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ensureDebianPackages } from "../support/packages.js";

describe("packaging", () => {
  it("docker-compose.yml is valid and wires bot + postgres as documented", () => {
    ensureDebianPackages({ "docker-compose": "/usr/bin/docker-compose" });
    const dir = mkdtempSync(join(tmpdir(), "opsgram-compose-"));
    copyFileSync("docker-compose.yml", join(dir, "docker-compose.yml"));
    copyFileSync(".env.example", join(dir, ".env"));
    mkdirSync(join(dir, "deploy"));
    const out = execFileSync("docker-compose", ["-f", join(dir, "docker-compose.yml"), "config"], { encoding: "utf8" });
    expect(out).toContain("restart: unless-stopped");
    expect(out).toContain("condition: service_healthy");
    expect(out).toMatch(/pg_isready/);
    expect(out).toMatch(/opsgram-db/);
  });

  it("the Dockerfile is multi-stage, runs as non-root, ships production dependencies only and runs compiled JavaScript", () => {
    const dockerfile = readFileSync("deploy/Dockerfile", "utf8");
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/npm (ci|prune) --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/COPY drizzle/);
    expect(dockerfile).toMatch(/^CMD \["node", (".*", )?"dist\/main\.js"\]$/m);
  });

  it("npm start runs the compiled bot, npm ci builds it, and tsx is not a runtime dependency", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as {
      scripts: Record<string, string>;
      dependencies: Record<string, string>;
    };
    expect(pkg.scripts.start).toMatch(/^node (--[a-z-]+=\S+ )*dist\/main\.js$/);
    expect(pkg.scripts.prepare).toMatch(/tsc -p tsconfig\.build\.json/);
    expect(Object.keys(pkg.dependencies)).not.toContain("tsx");
  });
});
