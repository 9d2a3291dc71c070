import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fileSchema } from "../../src/config/file.js";
import { formatIssues, loadConfig } from "../../src/config/load.js";

const TOKEN = `123456:${"A".repeat(20)}contract`;

/** A valid local target; `patch` is merged on top, one level deep per section. */
function target(patch: Record<string, unknown> = {}): Record<string, unknown> {
  return { host: "local", appDir: "/opt/app", services: { api: { min: 1, max: 3 }, worker: { min: 1, max: 6 } }, ...patch };
}

function problems(file: unknown): string[] {
  const result = fileSchema.safeParse(file);
  return result.success ? [] : formatIssues(result.error.issues);
}

const backup = { command: "pg_dump -Fc", dir: "/var/backups/app" };

describe("backup contract (issue 9)", () => {
  it("accepts every key and applies defaults", () => {
    const parsed = fileSchema.parse({
      targets: {
        prod: target({
          backup: { ...backup, restore: "pg_restore --clean", stopServices: ["api"], verify: "pg_restore --list", drill: "pg_restore -d drill", schedule: "0 3 * * *", drillSchedule: "30 3 * * 0", copy: "rclone copy {path} offsite:b/" },
          deploy: { rollbackSteps: [{ name: "downgrade", run: "alembic downgrade -1" }] },
        }),
      },
    });
    const t = parsed.targets.prod!;
    expect(t.backup?.stopServices).toEqual(["api"]);
    expect(t.backup?.drillMaxAgeDays).toBe(8);
    expect(t.deploy.rollbackSteps).toEqual([{ name: "downgrade", run: "alembic downgrade -1", timeoutSeconds: 600 }]);
    expect(fileSchema.parse({ targets: { prod: target({ backup }) } }).targets.prod!.backup?.stopServices).toEqual([]);
  });

  it("refuses a stopServices entry that is not a configured service, naming the configured ones", () => {
    expect(problems({ targets: { prod: target({ backup: { ...backup, stopServices: ["api", "db"] } }) } })).toEqual([
      'targets.prod.backup.stopServices.1: unknown service "db" (configured: api, worker)',
    ]);
    expect(problems({ targets: { prod: target({ services: {}, backup: { ...backup, stopServices: ["api"] } }) } })).toEqual([
      'targets.prod.backup.stopServices.0: unknown service "api" (no services are configured under services)',
    ]);
  });

  it("refuses bad cron expressions, six-field forms included, and accepts nicknames", () => {
    const bad = problems({ targets: { prod: target({ backup: { ...backup, schedule: "61 3 * * *", drill: "x", drillSchedule: "0 3 * * * *" } }) } });
    expect(bad).toHaveLength(2);
    expect(bad[0]).toMatch(/^targets\.prod\.backup\.schedule: is not a valid schedule: .*minute/i);
    expect(bad[1]).toBe("targets.prod.backup.drillSchedule: is not a valid schedule: must have five fields: minute hour day-of-month month day-of-week (UTC)");
    expect(problems({ targets: { prod: target({ backup: { ...backup, schedule: "0 3 * *" } }) } })[0]).toContain("must have five fields");
    expect(problems({ targets: { prod: target({ backup: { ...backup, schedule: "@daily" } }) } })).toEqual([]);
    expect(problems({ targets: { prod: target({ backup: { ...backup, schedule: "0 3 * * mon" } }) } })).toEqual([]);
  });

  it("needs drill for drillSchedule", () => {
    expect(problems({ targets: { prod: target({ backup: { ...backup, drillSchedule: "30 3 * * 0" } }) } })).toEqual([
      "targets.prod.backup.drillSchedule: needs backup.drill (the command that restores into a scratch database)",
    ]);
  });

  it("allows {path} as the only placeholder in copy, and leaves the shell's own ${VAR} alone", () => {
    expect(problems({ targets: { prod: target({ backup: { ...backup, copy: "rclone copy {path} {remote}:x/ {dest}" } }) } })).toEqual([
      "targets.prod.backup.copy: has an unknown placeholder {remote}, {dest}: {path} is the only one",
    ]);
    expect(problems({ targets: { prod: target({ backup: { ...backup, copy: "rclone copy {path} ${REMOTE}:x/" } }) } })).toEqual([]);
    expect(problems({ targets: { prod: target({ backup: { ...backup, copy: "rclone sync /var/backups/app offsite:x/" } }) } })).toEqual([]);
  });
});

describe("runbook commands (issue 10)", () => {
  const command = (patch: Record<string, unknown>) => ({ targets: { prod: target({ commands: { revoke_key: { description: "revoke a key", run: "manage revoke {tenant} {key_id}", args: { tenant: "^[a-z0-9-]{1,32}$", key_id: "^[0-9]{1,9}$" }, ...patch } } }) } });

  it("accepts a declared, anchored command and defaults confirm to true", () => {
    const parsed = fileSchema.parse(command({}));
    expect(parsed.targets.prod!.commands.revoke_key).toMatchObject({ confirm: true, timeoutSeconds: 120 });
    expect(fileSchema.parse({ targets: { prod: target({ commands: { orders: { description: "d", run: "psql -c 'select 1'", confirm: false } } }) } }).targets.prod!.commands.orders!.args).toEqual({});
  });

  it("refuses a pattern that does not compile", () => {
    expect(problems(command({ args: { tenant: "^[a-z$", key_id: "^[0-9]{1,9}$" } }))).toEqual([
      expect.stringMatching(/^targets\.prod\.commands\.revoke_key\.args\.tenant: is not a valid regular expression: /),
    ]);
  });

  it("refuses a pattern that is not anchored as a whole", () => {
    for (const pattern of ["[a-z]+", "^[a-z]+", "[a-z]+$", "^a|b$", "^[a-z]+\\$"]) {
      expect(problems(command({ args: { tenant: pattern, key_id: "^[0-9]{1,9}$" } }))).toEqual([
        "targets.prod.commands.revoke_key.args.tenant: must be anchored as a whole: ^…$ with no top-level |, e.g. '^(a|b)$'",
      ]);
    }
    for (const pattern of ["^(a|b)$", "^[|]$", "^a\\|b$", "^(?:x|y)[0-9]+$"]) {
      expect(problems(command({ args: { tenant: pattern, key_id: "^[0-9]{1,9}$" } }))).toEqual([]);
    }
  });

  it("refuses an undeclared {arg} in run and a declared arg that run does not use", () => {
    expect(problems(command({ run: "manage revoke {tenant} {key}" }))).toEqual([
      "targets.prod.commands.revoke_key.run: uses {key}, which is not declared under args",
      "targets.prod.commands.revoke_key.args.key_id: is declared but run does not use {key_id}",
    ]);
  });

  it("refuses {arg} inside shell quotes, where the quoted value would be re-read by the shell", () => {
    expect(problems(command({ run: `psql -c "select * from keys where tenant = {tenant}" {key_id}` }))).toEqual([
      "targets.prod.commands.revoke_key.run: has {tenant} inside quotes: opsgram quotes the value itself, so put {tenant} outside quotes",
    ]);
    expect(problems({ targets: { prod: target({ backup: { ...backup, copy: "rclone copy '{path}' offsite:b/" } }) } })).toEqual([
      "targets.prod.backup.copy: has {path} inside quotes: opsgram quotes the path itself, so put {path} outside quotes",
    ]);
  });

  it("validates command and argument names", () => {
    expect(problems({ targets: { prod: target({ commands: { "Bad Name": { description: "d", run: "x" } } }) } })[0]).toMatch(/^targets\.prod\.commands/);
    expect(problems(command({ run: "manage {Tenant}", args: { Tenant: "^a$" } })).join("\n")).toContain("targets.prod.commands.revoke_key.args.Tenant: argument names must match");
  });
});

describe("deploy and health checks (issue 10)", () => {
  const gate = { url: "http://127.0.0.1:8080/actuator/health" };

  it("normalizes one healthcheck to a list, keeps lists, and defaults to none", () => {
    expect(fileSchema.parse({ targets: { prod: target({ deploy: { healthcheck: gate } }) } }).targets.prod!.deploy.healthcheck).toEqual([
      { ...gate, from: "target", expectStatus: 200, timeoutSeconds: 60, intervalSeconds: 1, headers: {} },
    ]);
    expect(fileSchema.parse({ targets: { prod: target({ deploy: { healthcheck: [gate, { ...gate, url: "http://127.0.0.1:3000/" }] } }) } }).targets.prod!.deploy.healthcheck).toHaveLength(2);
    expect(fileSchema.parse({ targets: { prod: target() } }).targets.prod!.deploy.healthcheck).toEqual([]);
  });

  it("refuses expectBodyContains together with expectBodyMatches, in the gate and in health.http", () => {
    const both = { expectBodyContains: '"status":"UP"', expectBodyMatches: "UP" };
    expect(problems({ targets: { prod: target({ deploy: { healthcheck: { ...gate, ...both } }, health: { http: [{ name: "api", ...gate, ...both }] } }) } })).toEqual([
      "targets.prod.health.http.0.expectBodyMatches: set expectBodyContains or expectBodyMatches, not both",
      "targets.prod.deploy.healthcheck.0.expectBodyMatches: set expectBodyContains or expectBodyMatches, not both",
    ]);
    expect(problems({ targets: { prod: target({ deploy: { healthcheck: { ...gate, expectBodyMatches: "(" } } }) } })[0]).toMatch(/expectBodyMatches: is not a valid regular expression/);
  });

  it("refuses deploy.services that are not configured", () => {
    expect(problems({ targets: { prod: target({ deploy: { services: ["web"] } }) } })).toEqual(['targets.prod.deploy.services.0: unknown service "web" (configured: api, worker)']);
  });

  it("refuses header names that are not tokens, multi-line values and malformed ${…}", () => {
    const out = problems({ targets: { prod: target({ deploy: { healthcheck: { ...gate, headers: { "Bad Header": "x", A: "x\r\nInjected: 1", B: "Bearer ${lower-case}" } } } }) } });
    expect(out).toContain("targets.prod.deploy.healthcheck.0.headers.Bad Header: is not a valid HTTP header name");
    expect(out.join("\n")).toContain("targets.prod.deploy.healthcheck.0.headers.A: must be one line");
    expect(out.join("\n")).toContain("targets.prod.deploy.healthcheck.0.headers.B: has a malformed ${VAR} reference");
  });

  it("takes telegramWebhook and tls with defaults", () => {
    const health = fileSchema.parse({
      targets: { prod: target({ health: { telegramWebhook: { tokenEnv: "QUIZ_BOT_TOKEN", expectUrl: "https://example.com/webhook" }, tls: [{ host: "example.com" }] } }) },
    }).targets.prod!.health;
    expect(health.telegramWebhook).toEqual({ tokenEnv: "QUIZ_BOT_TOKEN", expectUrl: "https://example.com/webhook", maxPending: 100, intervalSeconds: 60 });
    expect(health.tls).toEqual([{ host: "example.com", port: 443, warnDays: 14, intervalSeconds: 3600 }]);
    expect(problems({ targets: { prod: target({ health: { tls: [{ host: "https://example.com" }], telegramWebhook: { tokenEnv: "X", expectUrl: "http://example.com" } } }) } })).toEqual([
      "targets.prod.health.telegramWebhook.expectUrl: must be an https URL (Telegram delivers webhooks over HTTPS only)",
      "targets.prod.health.tls.0.host: must be a host name (no scheme, no port)",
    ]);
  });
});

describe("access and fourEyes (issue 12)", () => {
  it("keeps fourEyes booleans working and hands on a list", () => {
    expect(fileSchema.parse({}).fourEyes).toEqual([]);
    expect(fileSchema.parse({ fourEyes: false }).fourEyes).toEqual([]);
    expect(fileSchema.parse({ fourEyes: true }).fourEyes).toContain("deploy");
    expect(fileSchema.parse({ fourEyes: true }).fourEyes).toContain("restore");
    expect(fileSchema.parse({ fourEyes: ["restore", "rollback"] }).fourEyes).toEqual(["restore", "rollback"]);
  });

  it("refuses unknown commands in fourEyes and in access.commands, and unknown roles", () => {
    expect(problems({ fourEyes: ["rollback", "status"] })).toEqual([expect.stringMatching(/^fourEyes\.1: "status" is not a command with a Confirm/)]);
    expect(problems({ fourEyes: "yes" })).toEqual(["fourEyes: must be true, false or a list of command names"]);
    // /lock is never four-eyed, so naming it must not look like protection.
    expect(problems({ fourEyes: ["lock"] })).toEqual([expect.stringMatching(/^fourEyes\.0: "lock" is not a command with a Confirm/)]);
    expect(fileSchema.parse({ fourEyes: true }).fourEyes).not.toContain("lock");
    const out = problems({ access: { roles: { "123": "root", abc: "admin" }, commands: { deplyo: "admin" } } });
    expect(out.join("\n")).toContain('access.roles.123: "root" is not a role (viewer, operator or admin)');
    expect(out).toContain('access.roles.abc: user ids must be numbers (quote them: "123456789")');
    expect(out).toContain('access.commands: unknown key "deplyo"');
  });

  it("accepts roles and command overrides", () => {
    const parsed = fileSchema.parse({ access: { roles: { "123456789": "admin", "234567890": "viewer" }, commands: { backup: "admin" } } });
    expect(parsed.access).toEqual({ roles: { "123456789": "admin", "234567890": "viewer" }, commands: { backup: "admin" } });
  });
});

describe("${VAR} in headers and telegramWebhook.tokenEnv, resolved at load", () => {
  function load(yaml: string, env: Record<string, string> = {}) {
    const dir = mkdtempSync(join(tmpdir(), "opsgram-cfg-"));
    const path = join(dir, "opsgram.yml");
    writeFileSync(path, yaml);
    return loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, ADMIN_CHAT_IDS: "1", OPSGRAM_CONFIG: path, ...env });
  }
  const yaml = [
    "targets:",
    "  prod:",
    "    host: local",
    "    appDir: /opt/app",
    "    deploy:",
    "      healthcheck:",
    "        url: http://127.0.0.1:8080/health",
    '        headers: { Authorization: "Bearer ${OPS_HEALTH_TOKEN}", X-Env: "${STAGE}-${STAGE}" }',
    "    health:",
    "      http:",
    "        - { name: api, url: http://127.0.0.1:8080/health, headers: { X-Api-Key: \"${API_KEY}\" } }",
    "      telegramWebhook: { tokenEnv: APP_BOT_TOKEN, expectUrl: https://example.com/hook }",
  ].join("\n");

  it("substitutes values from the environment and hands them on for redaction", () => {
    const result = load(yaml, { OPS_HEALTH_TOKEN: "s3cret-health", STAGE: "prod", API_KEY: "k3y", APP_BOT_TOKEN: "999:app-token" });
    expect(result.ok ? "ok" : result.problems).toBe("ok");
    if (!result.ok) return;
    const t = result.config.ops.targets.prod!;
    expect(t.deploy.healthcheck[0]!.headers).toEqual({ Authorization: "Bearer s3cret-health", "X-Env": "prod-prod" });
    expect(t.health.http[0]!.headers).toEqual({ "X-Api-Key": "k3y" });
    expect([...result.config.secrets].sort()).toEqual(["999:app-token", "k3y", "prod", "s3cret-health"]);
  });

  it("names every missing or empty variable, one problem each, with its path", () => {
    const result = load(yaml, { STAGE: "", API_KEY: "k" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual([
      "targets.prod.deploy.healthcheck.0.headers.Authorization: ${OPS_HEALTH_TOKEN} is not set in opsgram's environment",
      "targets.prod.deploy.healthcheck.0.headers.X-Env: ${STAGE} is not set in opsgram's environment",
      "targets.prod.deploy.healthcheck.0.headers.X-Env: ${STAGE} is not set in opsgram's environment",
      "targets.prod.health.telegramWebhook.tokenEnv: APP_BOT_TOKEN is not set in opsgram's environment",
    ]);
  });
});
