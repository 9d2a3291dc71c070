import { createHash, createHmac } from "node:crypto";
import type { AuditEvent } from "../../shared/ports.js";
import { redactText } from "../../shared/redact.js";

// What an audit row's hash is computed over, and how: pure functions shared by the writer
// (audit-log.ts), the verifier (audit-verify.ts) and anyone checking the table with other tools.

/** `prev_hash` of the first row in the chain. */
export const GENESIS_HASH = "0".repeat(64);

/**
 * Key of the transaction advisory lock every audit writer takes ("opsgram" + 0x01). The
 * `audit_events_chain_link` trigger (migration 0001) takes the same key, so keep them equal.
 */
export const AUDIT_CHAIN_LOCK_KEY = "8030045023739407617";

/** The fields a row's hash covers: everything stored except `id`, `prev_hash` and `hash`. */
export type AuditHashedFields = Omit<AuditEvent, "id" | "prevHash" | "hash">;

/**
 * The exact text a row's hash is computed over: stable JSON (object keys sorted at every depth)
 * of the stored fields. Pure, so a row read back from any tool hashes the same as when written.
 */
export function canonicalAuditRow(row: AuditHashedFields): string {
  return canonicalJson({
    created_at: row.createdAt.toISOString(),
    chat_id: row.chatId,
    user_id: row.userId,
    username: row.username,
    action: row.action,
    target: row.target,
    args: row.args,
    outcome: row.outcome,
    operation_id: row.operationId,
    detail: row.detail,
  });
}

/**
 * One link of the chain: `sha256_hex(prev_hash + canonicalAuditRow(row))`, or with `key` (the
 * AUDIT_HMAC_KEY) `hmac_sha256_hex(key, prev_hash + canonicalAuditRow(row))`. The SQL function
 * audit_append (migration 0004) computes the same on insert.
 */
export function auditRowHash(prevHash: string, row: AuditHashedFields, key?: string): string {
  return linkHash(prevHash + canonicalAuditRow(row), key);
}

/** The hash of one link's text, keyed or not. */
export function linkHash(text: string, key?: string): string {
  return (key === undefined ? createHash("sha256") : createHmac("sha256", key)).update(text).digest("hex");
}

/**
 * JSON with object keys sorted recursively, so jsonb (which reorders keys) and JS objects built in
 * any order serialise the same. `undefined` members are dropped as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Text exactly as Postgres will store and return it: no NUL (text and jsonb reject it), no lone
 * UTF-16 surrogates (they would come back as U+FFFD and no longer match the hash).
 */
export function storableText(text: string): string {
  return text.replace(/\u0000/g, "\uFFFD").replace(LONE_SURROGATE, "\uFFFD");
}

/**
 * args/detail as they will be stored: plain JSON data (dates as ISO strings, no undefined,
 * non-finite numbers as null, bigints as strings, cycles cut) with secrets masked in every string.
 */
export function toAuditJson(value: unknown, seen: WeakSet<object> = new WeakSet()): unknown {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "string":
      return storableText(redactText(value));
    case "number":
      return Number.isFinite(value) ? value : null;
    case "boolean":
      return value;
    case "bigint":
      return value.toString();
    case "object":
      break;
    default:
      return null; // functions, symbols: JSON has no such thing
  }
  const obj = value as object;
  if (seen.has(obj)) return "[Circular]";
  seen.add(obj);
  try {
    if (obj instanceof Error) return { name: obj.name, message: toAuditJson(obj.message, seen) };
    if (typeof (obj as { toJSON?: unknown }).toJSON === "function") {
      return toAuditJson((obj as { toJSON: () => unknown }).toJSON(), seen);
    }
    if (Array.isArray(obj)) return obj.map((v) => toAuditJson(v, seen));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined || typeof v === "function" || typeof v === "symbol") continue;
      out[storableText(k)] = toAuditJson(v, seen);
    }
    return out;
  } finally {
    seen.delete(obj);
  }
}


/** Text as stored, or null. */
export function nullableText(text: string | null): string | null {
  return text === null ? null : storableText(text);
}
