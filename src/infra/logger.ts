import pino, { type Logger } from "pino";
import { redactText } from "../shared/redact.js";

export { redactText };

export type { Logger };

/**
 * Paths redacted in every log line. Secrets also never get there by design (the token is only in
 * the grammY client, keys are read from disk), this is the second line of defence.
 */
const REDACT_PATHS = [
  "token",
  "*.token",
  "password",
  "*.password",
  "privateKey",
  "*.privateKey",
  "*.*.privateKey",
  "passphrase",
  "*.passphrase",
  "headers.authorization",
  "*.headers.authorization",
  "hmacKey",
  "*.hmacKey",
  "AUDIT_HMAC_KEY",
  "*.AUDIT_HMAC_KEY",
];

function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactText(value);
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) {
    const copy = new Error(redactText(value.message));
    copy.name = value.name;
    copy.stack = value.stack ? redactText(value.stack) : undefined;
    return copy;
  }
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, depth + 1);
  return out;
}

export interface LoggerOptions {
  level: string;
  /** Destination stream; stdout by default. Tests pass their own to assert on what is written. */
  destination?: pino.DestinationStream;
}

/** The process logger: JSON lines on stdout, secrets masked by path and by pattern. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { app: "opsgram" },
      redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
      formatters: {
        log: (object) => redactDeep(object) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const masked = args.map((a) => (typeof a === "string" ? redactText(a) : a)) as Parameters<typeof method>;
          method.apply(this, masked);
        },
      },
      // Error objects are serialised after `formatters.log`, so they are masked here as well.
      serializers: { err: (err: Error) => redactDeep(pino.stdSerializers.err(err)) },
    },
    options.destination ?? pino.destination(1),
  );
}
