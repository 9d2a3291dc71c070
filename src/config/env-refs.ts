import { ENV_REF } from "./checks.js";

/**
 * Puts opsgram's environment into the few config values that may name it: `${VAR}` in HTTP check
 * headers, and `health.telegramWebhook.tokenEnv`. Values come from the process environment only,
 * never from chat. Every value substituted is handed back so that redaction can hide it in logs,
 * chat, audit details and failure documents.
 */

export interface EnvRefResult<T> {
  /** The config with every `${VAR}` replaced. */
  ops: T;
  /** The values substituted (and the webhook tokens named), longest first, for redaction. */
  secrets: string[];
  /** `path: problem`, one per missing variable, in the format of the other config problems. */
  problems: string[];
}

interface HeaderHolder {
  headers: Record<string, string>;
}

interface TargetWithRefs {
  deploy: { healthcheck: HeaderHolder[] };
  health: { http: HeaderHolder[]; telegramWebhook?: { tokenEnv: string } | undefined };
}

/** Resolves every reference in `ops`; a variable that is unset or empty is a problem naming it. */
export function resolveEnvRefs<T extends { targets: Record<string, TargetWithRefs> }>(ops: T, env: NodeJS.ProcessEnv): EnvRefResult<T> {
  const secrets = new Set<string>();
  const problems: string[] = [];

  const lookup = (name: string, where: string): string | null => {
    const value = env[name];
    if (value === undefined || value === "") {
      problems.push(`${where}: \${${name}} is not set in opsgram's environment`);
      return null;
    }
    secrets.add(value);
    return value;
  };

  const resolveHeaders = (headers: Record<string, string>, where: string): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [name, raw] of Object.entries(headers)) {
      out[name] = raw.replace(ENV_REF, (whole, variable: string) => lookup(variable, `${where}.${name}`) ?? whole);
    }
    return out;
  };

  const targets: Record<string, TargetWithRefs> = {};
  for (const [targetName, target] of Object.entries(ops.targets)) {
    const at = `targets.${targetName}`;
    const healthcheck = target.deploy.healthcheck.map((c, i) => ({ ...c, headers: resolveHeaders(c.headers, `${at}.deploy.healthcheck.${i}.headers`) }));
    const http = target.health.http.map((c, i) => ({ ...c, headers: resolveHeaders(c.headers, `${at}.health.http.${i}.headers`) }));
    const webhook = target.health.telegramWebhook;
    if (webhook) {
      const token = env[webhook.tokenEnv];
      if (token === undefined || token === "") problems.push(`${at}.health.telegramWebhook.tokenEnv: ${webhook.tokenEnv} is not set in opsgram's environment`);
      else secrets.add(token);
    }
    targets[targetName] = { ...target, deploy: { ...target.deploy, healthcheck }, health: { ...target.health, http } };
  }

  return {
    ops: { ...ops, targets: targets as T["targets"] },
    secrets: [...secrets].sort((a, b) => b.length - a.length),
    problems,
  };
}
