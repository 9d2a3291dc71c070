import { existsSync, readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { resolveEnvRefs } from "./env-refs.js";
import { envSchema, toEnv, type Env } from "./env.js";
import { fileSchema, type OpsFile } from "./file.js";

export interface Config {
  env: Env;
  ops: OpsFile;
  /** False when opsgram.yml does not exist: the bot runs with no targets. */
  opsFileFound: boolean;
  /** Values substituted for `${VAR}` in opsgram.yml (and tokens it names): redact them everywhere. */
  secrets: readonly string[];
}

export type LoadResult = { ok: true; config: Config } | { ok: false; problems: string[] };

/** Renders zod issues as `path: message`, one line each, values as the user wrote them. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix = ""): string[] {
  return issues.map((issue) => {
    // An env list's element index says nothing to a user: `ADMIN_CHAT_IDS: "abc" is not a chat id`.
    const segments = prefix === "" && issue.path.length === 2 && typeof issue.path[1] === "number" && /^[A-Z_]+$/.test(String(issue.path[0]))
      ? [issue.path[0]]
      : issue.path;
    const path = segments.map(String).join(".");
    const where = [prefix, path].filter(Boolean).join(prefix && path ? "." : "");
    let message = issue.message;
    // A bad record key (`services: { "Web!": … }`) says why, not just "Invalid key in record".
    if (issue.code === "invalid_key" && issue.issues[0]) message = issue.issues[0].message;
    if (issue.code === "unrecognized_keys") message = `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
    if (issue.code === "invalid_type" && message.startsWith("Invalid input")) {
      message = message.endsWith("received undefined") ? "is required" : `expected a ${issue.expected}`;
    }
    return `${where || "(root)"}: ${message}`;
  });
}

/** Reads env and opsgram.yml, and reports every problem at once instead of stopping at the first. */
export function loadConfig(rawEnv: NodeJS.ProcessEnv): LoadResult {
  const problems: string[] = [];
  const envResult = envSchema.safeParse(rawEnv);
  if (!envResult.success) problems.push(...formatIssues(envResult.error.issues));
  const configPath = envResult.success ? envResult.data.OPSGRAM_CONFIG : (rawEnv.OPSGRAM_CONFIG ?? "./opsgram.yml");

  let ops: OpsFile = fileSchema.parse({});
  let opsFileFound = false;
  let secrets: string[] = [];
  if (existsSync(configPath)) {
    opsFileFound = true;
    const doc = parseDocument(readFileSync(configPath, "utf8"));
    if (doc.errors.length > 0) {
      problems.push(...doc.errors.map((e) => `${configPath}: ${e.message.split("\n")[0]}`));
    } else {
      const fileResult = fileSchema.safeParse(doc.toJS() ?? {});
      if (fileResult.success) {
        const resolved = resolveEnvRefs(fileResult.data, rawEnv);
        ops = resolved.ops;
        secrets = resolved.secrets;
        problems.push(...resolved.problems);
      } else problems.push(...formatIssues(fileResult.error.issues));
    }
  }
  if (problems.length > 0 || !envResult.success) return { ok: false, problems };
  return { ok: true, config: { env: toEnv(envResult.data), ops, opsFileFound, secrets } };
}
