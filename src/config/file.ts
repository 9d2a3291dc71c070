import { z } from "zod";

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
});

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
});

const deploy = z.strictObject({
  /** Default: plain branch or tag names. Git's own ref rules are applied on top of this. */
  allowedRefs: regexSource.default("^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$"),
  remote: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: "must be a plain remote name" }).default("origin"),
  backupFirst: z.boolean().default(false),
  steps: z.array(z.strictObject({ name, run: shellLine, timeoutSeconds: z.number().positive().default(600) })).default([]),
  healthcheck: healthcheck.optional(),
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
}).superRefine((t, ctx) => {
  if (t.host !== "local" && !t.ssh) {
    ctx.addIssue({ code: "custom", path: ["ssh"], message: "is required for ssh:// targets (privateKeyPath, knownHostsPath)" });
  }
});

export const fileSchema = z.strictObject({
  targets: z.record(name, target).default({}),
  /** Seconds a Confirm button stays valid. */
  confirmTimeoutSeconds: z.int().min(10).max(3600).default(300),
  /** When true, the person who confirms must not be the person who asked. */
  fourEyes: z.boolean().default(false),
});

export type OpsFile = z.output<typeof fileSchema>;
export type TargetConfig = z.output<typeof target>;
export type HttpCheckConfig = z.output<typeof httpCheck>;
export type DeployConfig = z.output<typeof deploy>;
