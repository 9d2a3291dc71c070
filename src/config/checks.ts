import { z } from "zod";
import { regexProblem } from "./patterns.js";

/**
 * Schema parts for HTTP checks (the deploy health gate and `health.http`) and for the app-facing
 * monitors of issue 10: the app's own Telegram webhook and its TLS certificates.
 */

/** `${VAR}`: a value from opsgram's own environment, substituted at load (see env-refs.ts). */
export const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** RFC 9110 token characters: anything else would break the request line or smuggle a header. */
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/, { error: "is not a valid HTTP header name" });
const headerValue = z
  .string()
  .max(4096)
  .regex(/^[^\r\n\0]*$/, { error: "must be one line" })
  .refine((v) => v.replace(ENV_REF, "").indexOf("${") === -1, { error: "has a malformed ${VAR} reference (use ${NAME}, letters, digits and _)" });

const regexSource = z.string().min(1).max(500).superRefine((s, ctx) => {
  const problem = regexProblem(s);
  if (problem) ctx.addIssue({ code: "custom", message: `is not a valid regular expression: ${problem}` });
});

/** Extra options every HTTP check takes. Spread into the check's object schema. */
export const httpExpectations = {
  /** The body must contain this text, e.g. `"status":"UP"`. */
  expectBodyContains: z.string().min(1).max(1000).optional(),
  /** The body must match this regular expression. Exclusive with expectBodyContains. */
  expectBodyMatches: regexSource.optional(),
  /** Sent with the request; `${VAR}` values come from opsgram's environment and are redacted everywhere. */
  headers: z.record(headerName, headerValue).default({}),
};

/** Refinement for a check with httpExpectations: one body expectation at most. */
export function oneBodyExpectation(check: { expectBodyContains?: string | undefined; expectBodyMatches?: string | undefined }, ctx: z.RefinementCtx): void {
  if (check.expectBodyContains !== undefined && check.expectBodyMatches !== undefined) {
    ctx.addIssue({ code: "custom", path: ["expectBodyMatches"], message: "set expectBodyContains or expectBodyMatches, not both" });
  }
}

/** Accepts one item or a list of them; always hands on a list (empty when absent). */
export function oneOrList<T extends z.ZodType>(item: T) {
  return z
    .preprocess((v) => (Array.isArray(v) ? v : [v]), z.array(item))
    .optional()
    .transform((list) => list ?? []);
}

const envName = z.string().regex(ENV_NAME, { error: "must be an environment variable name" });

/** getWebhookInfo for the app's own bot, with its token taken from opsgram's environment. */
export const telegramWebhookCheck = z.strictObject({
  /** Name of the env var of opsgram's process that holds the app bot's token (checked at load). */
  tokenEnv: envName,
  expectUrl: z.url({ protocol: /^https$/, error: "must be an https URL (Telegram delivers webhooks over HTTPS only)" }),
  maxPending: z.int().min(0).max(1_000_000).default(100),
  intervalSeconds: z.number().min(10).max(3600).default(60),
});

const hostname = z
  .string()
  .regex(/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, {
    error: "must be a host name (no scheme, no port)",
  });

/** A certificate whose expiry and chain are read from the bot. */
export const tlsCheck = z.strictObject({
  host: hostname,
  port: z.int().min(1).max(65535).default(443),
  warnDays: z.int().min(1).max(365).default(14),
  intervalSeconds: z.number().min(60).max(86400).default(3600),
});

export type TelegramWebhookCheckConfig = z.output<typeof telegramWebhookCheck>;
export type TlsCheckConfig = z.output<typeof tlsCheck>;
