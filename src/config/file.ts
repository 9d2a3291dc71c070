import { z } from "zod";
import { access, fourEyes } from "./access.js";
import { httpExpectations, oneBodyExpectation, oneOrList, telegramWebhookCheck, tlsCheck } from "./checks.js";
import { runbookCommand } from "./commands.js";
import { cronProblem } from "./cron.js";
import { placeholdersIn, placeholdersInsideQuotes } from "./placeholders.js";

/** Names that reach a command line (targets, services, check names): short, plain, never an option. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const name = z.string().regex(NAME_PATTERN, { error: "must match [a-z0-9][a-z0-9_-]* (max 63 chars)" });

/** An operator-written shell line from opsgram.yml: trusted, run as written in appDir. */
const shellLine = z.string().trim().min(1, { error: "must not be empty" });

const regexSource = z.string().refine(
  (s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  },
  { error: "is not a valid regular expression" },
);

const sshHost = z
  .string()
  .regex(/^ssh:\/\/[A-Za-z0-9._-]+@[A-Za-z0-9.-]+(:\d{1,5})?$/, {
    error: "must be 'local' or ssh://user@host[:port]",
  });

const serviceBounds = z.strictObject({
  min: z.int().min(0).max(100),
  max: z.int().min(1).max(100),
}).refine((b) => b.min <= b.max, { error: "min must not exceed max" });

const httpCheck = z.strictObject({
  name,
  url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  from: z.enum(["target", "bot"]).default("target"),
  intervalSeconds: z.number().min(1).max(3600).default(15),
  timeoutSeconds: z.number().min(0.5).max(120).default(5),
  expectStatus: z.int().min(100).max(599).default(200),
  failuresBeforeAlert: z.int().min(1).max(100).default(2),
  successesBeforeRecovery: z.int().min(1).max(100).default(2),
  /** The service this check watches: its failures join that service's incident (default: a configured service of the same name). */
  service: name.optional(),
  ...httpExpectations,
}).superRefine(oneBodyExpectation);

const health = z.strictObject({
  http: z.array(httpCheck).default([]),
  disk: z
    .strictObject({
      path: z.string().startsWith("/", { error: "must be an absolute path" }).default("/"),
      warnPercent: z.number().min(1).max(100).default(85),
      intervalSeconds: z.number().min(5).max(86400).default(300),
    })
    .optional(),
  backupMaxAgeHours: z.number().positive().optional(),
  payoutsPausedReminderMinutes: z.number().positive().optional(),
  /** Seconds between SSH reachability probes of the target. */
  reachabilityIntervalSeconds: z.number().min(5).max(3600).default(60),
  /** A container restarting this many times within restartLoopWindowSeconds is a restart loop. */
  restartLoopCount: z.int().min(2).max(100).default(3),
  restartLoopWindowSeconds: z.number().min(10).max(3600).default(300),
  /** The app's own Telegram bot: webhook URL, pending updates, last delivery error. */
  telegramWebhook: telegramWebhookCheck.optional(),
  /** Certificates to watch from the bot: expiry, chain and name. */
  tls: z.array(tlsCheck).default([]),
  /** Reminder for an open, unacknowledged incident, in minutes; 0 = never. */
  reminderMinutes: z.number().min(0).max(10080).default(60),
  /** A service opening and recovering more often than this within an hour becomes one "flapping" incident. */
  flappingOpensPerHour: z.int().min(1).max(100).default(4),
});

const healthcheck = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  from: z.enum(["target", "bot"]).default("target"),
  expectStatus: z.int().min(100).max(599).default(200),
  timeoutSeconds: z.number().min(1).max(3600).default(60),
  intervalSeconds: z.number().min(0.2).max(60).default(1),
  ...httpExpectations,
}).superRefine(oneBodyExpectation);

/** A named shell line run in appDir (deploy steps, verify steps, rollback steps). */
const step = z.strictObject({ name, run: shellLine, timeoutSeconds: z.number().positive().default(600) });

/** A 5-field cron expression (UTC) or a nickname such as @daily, checked by the scheduler's own parser. */
const cronExpression = z.string().superRefine((s, ctx) => {
  const problem = cronProblem(s);
  if (problem) ctx.addIssue({ code: "custom", message: `is not a valid schedule: ${problem}` });
});

const deploy = z.strictObject({
  /** Default: plain branch or tag names. Git's own ref rules are applied on top of this. */
  allowedRefs: regexSource.default("^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$"),
  remote: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: "must be a plain remote name" }).default("origin"),
  backupFirst: z.boolean().default(false),
  steps: z.array(step).default([]),
  /** One check or a list, all of which must pass; handed on as a list (empty: containers running/healthy). */
  healthcheck: oneOrList(healthcheck),
  /** Build and recreate only these configured services (default: all). */
  services: z.array(name).min(1, { error: "must name at least one service (leave it out to deploy all)" }).optional(),
  /** After up, before the health gate; a failure is an unhealthy deploy. */
  verify: z.array(step).default([]),
  /** Run in the checkout being left, before the old sha is checked out (down-migrations). */
  rollbackSteps: z.array(step).default([]),
  autoRollback: z.boolean().default(true),
  buildTimeoutSeconds: z.number().positive().default(1800),
});

const backup = z.strictObject({
  /** Writes the dump to stdout; opsgram redirects it into <dir>/<target>-<UTC timestamp>.<ext>. */
  command: shellLine,
  dir: z.string().startsWith("/", { error: "must be an absolute path" }),
  keep: z.int().min(1).max(1000).default(14),
  format: z.enum(["custom", "gzip", "plain"]).default("custom"),
  timeoutSeconds: z.number().positive().default(3600),
  /**
   * Reads the dump on stdin. The whole line reads it, pipes included (`gunzip -c | psql …`), so the
   * runner must group the line before redirecting: `( line ) < file`, never `line < file`.
   */
  restore: shellLine.optional(),
  /** Configured services stopped before a restore and started after it. */
  stopServices: z.array(name).default([]),
  /** Reads the dump on stdin; for custom dumps when the target has no pg_restore. */
  verify: shellLine.optional(),
  /** Restores stdin into a scratch database; non-zero exit = failed drill. */
  drill: shellLine.optional(),
  schedule: cronExpression.optional(),
  drillSchedule: cronExpression.optional(),
  /** Runs after a verified backup; `{path}` (the only placeholder) becomes the quoted file path. */
  copy: shellLine
    .refine((line) => placeholdersIn(line).every((p) => p === "path"), {
      error: (i) => `has an unknown placeholder ${placeholdersIn(String(i.input)).filter((p) => p !== "path").map((p) => `{${p}}`).join(", ")}: {path} is the only one`,
    })
    .refine((line) => placeholdersInsideQuotes(line).length === 0, { error: "has {path} inside quotes: opsgram quotes the path itself, so put {path} outside quotes" })
    .optional(),
  /** No successful drill for this long is a health alert. */
  drillMaxAgeDays: z.number().positive().max(366).default(8),
}).superRefine((b, ctx) => {
  if (b.drillSchedule !== undefined && b.drill === undefined) {
    ctx.addIssue({ code: "custom", path: ["drillSchedule"], message: "needs backup.drill (the command that restores into a scratch database)" });
  }
});

const payouts = z.strictObject({
  pause: shellLine,
  resume: shellLine,
  /** Non-empty output means paused. */
  status: shellLine,
});

const target = z.strictObject({
  host: z.union([z.literal("local"), sshHost]),
  ssh: z
    .strictObject({
      privateKeyPath: z.string().min(1),
      knownHostsPath: z.string().min(1),
      connectTimeoutSeconds: z.number().min(1).max(120).default(10),
      keepaliveSeconds: z.number().min(1).max(600).default(15),
    })
    .optional(),
  appDir: z.string().startsWith("/", { error: "must be an absolute path" }),
  compose: z
    .strictObject({
      command: z.enum(["docker compose", "docker-compose"]).default("docker compose"),
      files: z.array(z.string().regex(/^[^\0\n]+$/)).default([]),
      project: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, { error: "must be a compose project name" }).optional(),
    })
    .prefault({}),
  /** Local docker socket (host: local) or the remote one forwarded over SSH. */
  dockerSocket: z.string().startsWith("/").default("/var/run/docker.sock"),
  services: z.record(name, serviceBounds).default({}),
  health: health.prefault({}),
  deploy: deploy.prefault({}),
  backup: backup.optional(),
  payouts: payouts.optional(),
  /** Named runbook commands for `/run`. */
  commands: z.record(name, runbookCommand).default({}),
}).superRefine((t, ctx) => {
  if (t.host !== "local" && !t.ssh) {
    ctx.addIssue({ code: "custom", path: ["ssh"], message: "is required for ssh:// targets (privateKeyPath, knownHostsPath)" });
  }
  const configured = Object.keys(t.services);
  const checkServices = (list: readonly string[] | undefined, path: (string | number)[]) => {
    list?.forEach((service, i) => {
      if (!Object.hasOwn(t.services, service)) {
        const known = configured.length > 0 ? `configured: ${configured.join(", ")}` : "no services are configured under services";
        ctx.addIssue({ code: "custom", path: [...path, i], message: `unknown service "${service}" (${known})` });
      }
    });
  };
  checkServices(t.backup?.stopServices, ["backup", "stopServices"]);
  checkServices(t.deploy.services, ["deploy", "services"]);
});

export const fileSchema = z.strictObject({
  targets: z.record(name, target).default({}),
  /** Seconds a Confirm button stays valid. */
  confirmTimeoutSeconds: z.int().min(10).max(3600).default(300),
  /** Commands older than this (from message.date) are not run: the backlog after downtime. */
  staleCommandSeconds: z.int().min(10).max(86400).default(120),
  /** true: every mutating command; false: none; or a list of command names. Handed on as a list. */
  fourEyes,
  /** Roles per user id and minimum role per command. */
  access: access.prefault({}),
});

export type OpsFile = z.output<typeof fileSchema>;
export type TargetConfig = z.output<typeof target>;
export type HttpCheckConfig = z.output<typeof httpCheck>;
export type DeployConfig = z.output<typeof deploy>;
export type HealthConfig = z.output<typeof health>;
export type HealthGateCheckConfig = z.output<typeof healthcheck>;
export type DeployStepConfig = z.output<typeof step>;
export type BackupConfig = z.output<typeof backup>;
export type PayoutsConfig = z.output<typeof payouts>;
export type ServiceBoundsConfig = z.output<typeof serviceBounds>;
export type { AccessConfig, CommandName, FourEyesConfig, MutatingCommand, Role } from "./access.js";
export type { TelegramWebhookCheckConfig, TlsCheckConfig } from "./checks.js";
export type { RunbookCommandConfig } from "./commands.js";
