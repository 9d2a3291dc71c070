/**
 * Masks secrets in free text: bot tokens, passwords inside URLs, private key blocks,
 * `NAME=value` where the name says it is a secret, `password=` in connection strings,
 * `Authorization: Bearer …`, and every value registered at runtime (the `${VAR}` values opsgram
 * substituted into commands). Pure apart from that registry, so every layer can use it — the
 * logger on every line, bot/ on /logs and /run output, failure documents and audit details.
 */
const TOKEN_IN_TEXT = /(?<!\d)\d{5,16}:[A-Za-z0-9_-]{30,}/g;
const PASSWORD_IN_URL = /\b([a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]+):[^@/\s]+@/gi;
const PRIVATE_KEY_BLOCK = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g;
/**
 * `DB_PASSWORD=hunter2`, `api_key="x y"`, `password=s3cret` in a libpq string or a URL query. The
 * name must contain one of the words; the value runs to whitespace, `&`, `;` or `,` (or is quoted).
 */
const SECRET_ASSIGNMENT =
  /\b([A-Za-z0-9_.-]*(?:TOKEN|SECRET|PASSWORD|PASSWD|KEY)[A-Za-z0-9_.-]*=)("[^"]*"|'[^']*'|[^\s&;,"']+)/gi;
/** `Authorization: Bearer abc`, `authorization=Basic abc`, and a bare `Bearer abc.def`. */
const AUTHORIZATION_HEADER = /\b(authorization\s*[:=]\s*(?:bearer|basic|token)?\s*)[^\s"',;]+/gi;
const BEARER = /\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi;

/** What a masked value becomes. */
export const MASK = "***";

/** Values shorter than this are not registered: masking "ab" everywhere would mangle output. */
const MIN_REGISTERED_LENGTH = 4;
const registered = new Set<string>();
let registeredPattern: RegExp | null = null;

/**
 * Registers a secret value to be masked wherever it appears from now on, e.g. the value of each
 * `${VAR}` opsgram substitutes into an operator command. Short values (< 4 chars) are ignored.
 */
export function registerSecret(value: string): void {
  if (value.length < MIN_REGISTERED_LENGTH || registered.has(value)) return;
  registered.add(value);
  // Longest first, so a value that contains another is masked whole.
  const alternatives = [...registered].sort((a, b) => b.length - a.length).map(escapeRegExp);
  registeredPattern = new RegExp(alternatives.join("|"), "g");
}

/** Forgets every registered value (tests, and a config reload). */
export function clearRegisteredSecrets(): void {
  registered.clear();
  registeredPattern = null;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Masks every kind of secret listed above in `text`. */
export function redactText(text: string): string {
  let out = text;
  if (registeredPattern) out = out.replace(registeredPattern, MASK);
  return out
    .replace(PRIVATE_KEY_BLOCK, "[REDACTED PRIVATE KEY]")
    .replace(TOKEN_IN_TEXT, "[REDACTED TOKEN]")
    .replace(PASSWORD_IN_URL, "$1:[REDACTED]@")
    .replace(SECRET_ASSIGNMENT, `$1${MASK}`)
    .replace(AUTHORIZATION_HEADER, `$1${MASK}`)
    .replace(BEARER, `$1${MASK}`);
}

/** The one entry point bot/ applies to /logs, /run output, failure documents and audit details. */
export const redact = redactText;
