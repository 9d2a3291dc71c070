/**
 * Result lines that operations hand to the chat layer without knowing its markup: plain strings,
 * plus spans the renderer shows as code (shas, paths). bot/ turns them into HTML; the audit log
 * keeps {@link plainText}.
 */
export type TextPart = string | { readonly code: string };
export type RichText = readonly TextPart[];

/** The text without marks, for audit rows and logs. */
export function plainText(text: RichText): string {
  return text.map((p) => (typeof p === "string" ? p : p.code)).join("");
}
