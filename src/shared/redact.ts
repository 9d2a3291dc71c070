/**
 * Masks secrets in free text: bot tokens, passwords inside URLs, private key blocks. Pure, so
 * every layer can use it — the logger on every line, operations on text bound for chat.
 */
const TOKEN_IN_TEXT = /(?<!\d)\d{5,16}:[A-Za-z0-9_-]{30,}/g;
const PASSWORD_IN_URL = /\b([a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]+):[^@/\s]+@/gi;
const PRIVATE_KEY_BLOCK = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g;

export function redactText(text: string): string {
  return text
    .replace(PRIVATE_KEY_BLOCK, "[REDACTED PRIVATE KEY]")
    .replace(TOKEN_IN_TEXT, "[REDACTED TOKEN]")
    .replace(PASSWORD_IN_URL, "$1:[REDACTED]@");
}

