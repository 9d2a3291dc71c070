import { z } from "zod";

/** A Telegram chat id: groups are negative; ids have up to 52 significant bits. */
const chatId = z
  .string()
  .trim()
  .regex(/^-?\d{1,16}$/, { error: (i) => `${JSON.stringify(i.input)} is not a chat id` })
  .transform(Number);

const userId = z
  .string()
  .trim()
  .regex(/^\d{1,16}$/, { error: (i) => `${JSON.stringify(i.input)} is not a user id` })
  .transform(Number);

function idList<T extends z.ZodType<number, string>>(item: T) {
  return z
    .string()
    .transform((s) => s.split(",").map((p) => p.trim()).filter((p) => p.length > 0))
    .pipe(z.array(item));
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Environment variables, validated once at start. Every key is documented in .env.example. */
export const envSchema = z.object({
  TELEGRAM_BOT_TOKEN: z
    .string({ error: "is required (get one from @BotFather)" })
    .regex(/^\d+:[A-Za-z0-9_-]{20,}$/, { error: "does not look like a bot token (expected 123456:ABC…)" }),
  TELEGRAM_API_ROOT: z.url({ error: "must be a URL such as http://127.0.0.1:8081" }).optional(),
  ADMIN_CHAT_IDS: idList(chatId).refine((a) => a.length > 0, {
    error: "needs at least one chat id (send /whoami to the bot to find yours)",
  }),
  ADMIN_USER_IDS: idList(userId).optional(),
  ALERT_CHAT_IDS: idList(chatId).optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { error: "must start with postgres:// or postgresql://" })
    .optional(),
  DATABASE_OWNER_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { error: "must start with postgres:// or postgresql://" })
    .optional(),
  AUDIT_HMAC_KEY: z
    .string()
    .min(16, { error: "must be at least 16 characters (e.g. the output of `openssl rand -hex 32`)" })
    .optional(),
  AUDIT_DIGEST_HOUR: z
    .string()
    .trim()
    .regex(/^(off|[01]?\d|2[0-3])$/, { error: "must be an hour from 0 to 23 (UTC), or off" })
    .default("8")
    .transform((s) => (s === "off" ? null : Number(s))),
  DATA_DIR: z.string().min(1).default("./data"),
  AUDIT_JOURNAL_PATH: z.string().min(1).optional(),
  OPSGRAM_CONFIG: z.string().min(1).default("./opsgram.yml"),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
});

export type RawEnv = z.input<typeof envSchema>;

/** The environment after validation, with the names the rest of the code uses. */
export interface Env {
  telegramBotToken: string;
  telegramApiRoot: string | undefined;
  adminChatIds: number[];
  /** When set, only these users may act (commands and buttons), in any admin chat. */
  adminUserIds: number[] | undefined;
  alertChatIds: number[];
  databaseUrl: string | undefined;
  /** Migrations run with this role; the app role then only INSERTs and SELECTs audit rows. */
  databaseOwnerUrl: string | undefined;
  /** When set, audit rows are HMAC-SHA256 with it instead of plain sha256. Never logged. */
  auditHmacKey: string | undefined;
  /** UTC hour of the daily audit digest; null = no daily digest. */
  auditDigestHour: number | null;
  dataDir: string;
  /** The kill switch's local audit journal (used while Postgres is down). Default DATA_DIR/audit-journal.jsonl. */
  auditJournalPath: string | undefined;
  configPath: string;
  logLevel: (typeof LOG_LEVELS)[number];
}

export function toEnv(parsed: z.output<typeof envSchema>): Env {
  return {
    telegramBotToken: parsed.TELEGRAM_BOT_TOKEN,
    telegramApiRoot: parsed.TELEGRAM_API_ROOT,
    adminChatIds: parsed.ADMIN_CHAT_IDS,
    adminUserIds: parsed.ADMIN_USER_IDS && parsed.ADMIN_USER_IDS.length > 0 ? parsed.ADMIN_USER_IDS : undefined,
    alertChatIds:
      parsed.ALERT_CHAT_IDS && parsed.ALERT_CHAT_IDS.length > 0 ? parsed.ALERT_CHAT_IDS : parsed.ADMIN_CHAT_IDS,
    databaseUrl: parsed.DATABASE_URL,
    databaseOwnerUrl: parsed.DATABASE_OWNER_URL,
    auditHmacKey: parsed.AUDIT_HMAC_KEY,
    auditDigestHour: parsed.AUDIT_DIGEST_HOUR,
    dataDir: parsed.DATA_DIR,
    auditJournalPath: parsed.AUDIT_JOURNAL_PATH,
    configPath: parsed.OPSGRAM_CONFIG,
    logLevel: parsed.LOG_LEVEL,
  };
}
