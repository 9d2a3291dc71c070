import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { ServerHostKeyAlgorithm } from "ssh2";

/**
 * OpenSSH known_hosts, read the way `ssh` reads it, so a target's host key is pinned by the same
 * file an operator already maintains (ssh2 itself accepts any key: PITFALLS item 2).
 *
 * Supported: plain names, `[host]:port`, comma lists, `*`/`?` wildcards, `!` negation, hashed
 * `|1|salt|hash` names, `@revoked` (refused even if also listed as trusted). `@cert-authority`
 * lines are ignored: opsgram does not accept host certificates.
 */

export interface KnownHostEntry {
  /** 1-based line number, for messages. */
  line: number;
  marker: "revoked" | "cert-authority" | null;
  /** Host patterns as written (plain, `[host]:port`, wildcards, `!negated`, or `|1|…` hashed). */
  patterns: string[];
  keyType: string;
  /** The raw public key blob (what the server sends during key exchange). */
  key: Buffer;
}

/** Parses a known_hosts file; malformed lines are skipped, as ssh does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const fields = trimmed.split(/\s+/);
    let marker: KnownHostEntry["marker"] = null;
    if (fields[0]?.startsWith("@")) {
      const m = fields.shift();
      if (m === "@revoked") marker = "revoked";
      else if (m === "@cert-authority") marker = "cert-authority";
      else return;
    }
    const [hosts, keyType, keyBase64] = fields;
    if (!hosts || !keyType || !keyBase64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(keyBase64)) return;
    const key = Buffer.from(keyBase64, "base64");
    // The blob starts with its own type name; a line whose two disagree is corrupt.
    if (blobKeyType(key) !== keyType) return;
    entries.push({ line: index + 1, marker, patterns: hosts.split(","), keyType, key });
  });
  return entries;
}

/** The key type string at the start of an SSH public key blob (uint32 length + name). */
export function blobKeyType(key: Buffer): string | null {
  if (key.length < 4) return null;
  const length = key.readUInt32BE(0);
  if (length === 0 || length > 64 || key.length < 4 + length) return null;
  return key.subarray(4, 4 + length).toString("latin1");
}

/** The name ssh looks up for a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** `ssh-keygen -l` style fingerprint: `SHA256:` + unpadded base64 of the blob's SHA-256. */
export function fingerprintSha256(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

function globToRegExp(glob: string): RegExp {
  const source = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${source}$`, "i");
}

function hashedMatches(pattern: string, name: string): boolean {
  const parts = pattern.split("|");
  // "|1|salt|hash" splits into ["", "1", salt, hash].
  if (parts.length !== 4 || parts[1] !== "1" || !parts[2] || !parts[3]) return false;
  const salt = Buffer.from(parts[2], "base64");
  const expected = Buffer.from(parts[3], "base64");
  const actual = createHmac("sha1", salt).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** Whether an entry's pattern list names `name` (OpenSSH semantics: any negated match vetoes). */
export function entryMatches(entry: Pick<KnownHostEntry, "patterns">, name: string): boolean {
  let matched = false;
  for (const pattern of entry.patterns) {
    const negated = pattern.startsWith("!");
    const body = negated ? pattern.slice(1) : pattern;
    const hit = body.startsWith("|") ? hashedMatches(body, name) : globToRegExp(body).test(name);
    if (hit && negated) return false;
    if (hit) matched = true;
  }
  return matched;
}

export interface PinnedKeys {
  /** Keys the host may present. */
  trusted: KnownHostEntry[];
  /** Keys the host must not present, even if trusted elsewhere. */
  revoked: KnownHostEntry[];
}

/** The pinned keys for host:port. */
export function findHostKeys(entries: readonly KnownHostEntry[], host: string, port: number): PinnedKeys {
  const name = knownHostName(host, port);
  const trusted: KnownHostEntry[] = [];
  const revoked: KnownHostEntry[] = [];
  for (const entry of entries) {
    if (entry.marker === "revoked") {
      if (entryMatches(entry, name)) revoked.push(entry);
    } else if (entry.marker === null && entryMatches(entry, name)) {
      trusted.push(entry);
    }
  }
  return { trusted, revoked };
}

export type HostKeyVerdict =
  | { status: "trusted"; fingerprint: string }
  | { status: "unknown"; fingerprint: string }
  | { status: "mismatch"; fingerprint: string; expected: string[] }
  | { status: "revoked"; fingerprint: string };

/** Decides on the key a server presented, comparing raw blobs. */
export function verifyHostKey(pinned: PinnedKeys, presented: Buffer): HostKeyVerdict {
  const fingerprint = fingerprintSha256(presented);
  if (pinned.revoked.some((e) => e.key.equals(presented))) return { status: "revoked", fingerprint };
  if (pinned.trusted.length === 0) return { status: "unknown", fingerprint };
  if (pinned.trusted.some((e) => e.key.equals(presented))) return { status: "trusted", fingerprint };
  return { status: "mismatch", fingerprint, expected: pinned.trusted.map((e) => fingerprintSha256(e.key)) };
}

const ALGORITHMS_BY_KEY_TYPE: Record<string, ServerHostKeyAlgorithm[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};

/**
 * Host key algorithms to offer so the server presents a key type we have pinned (as ssh does):
 * otherwise a server with both RSA and Ed25519 keys, pinned by its RSA key, would present Ed25519
 * and look like a mismatch. Undefined (ssh2's defaults) when nothing usable is pinned.
 */
export function hostKeyAlgorithms(pinned: PinnedKeys): ServerHostKeyAlgorithm[] | undefined {
  const algorithms = new Set<ServerHostKeyAlgorithm>();
  for (const entry of pinned.trusted) for (const a of ALGORITHMS_BY_KEY_TYPE[entry.keyType] ?? []) algorithms.add(a);
  return algorithms.size > 0 ? [...algorithms] : undefined;
}
