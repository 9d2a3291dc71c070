import type { OperationsDeps, TargetHandle } from "./context.js";

/**
 * The one name → target lookup. Names come from chat, so only the config's own entries count
 * (`constructor` or `__proto__` are unknown targets, not Object.prototype members).
 */
export function lookupTarget(deps: Pick<OperationsDeps, "config" | "targets">, name: string): TargetHandle | null {
  if (!Object.hasOwn(deps.config.targets, name) || !Object.hasOwn(deps.targets, name)) return null;
  const config = deps.config.targets[name];
  const ports = deps.targets[name];
  return config && ports ? { name, config, ports } : null;
}

/** The configured target names, in opsgram.yml order (the first is the default). */
export function targetNames(deps: Pick<OperationsDeps, "config">): string[] {
  return Object.keys(deps.config.targets);
}
