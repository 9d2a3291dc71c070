import { redactText } from "./infra/logger.js";

/**
 * A problem with the setup (env, opsgram.yml, database, token) that the operator must fix.
 * main.ts prints `problems` one per line, without a stack trace, and exits 2.
 */
export class SetupError extends Error {
  override readonly name = "SetupError";
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
  }
}

/** One line per problem, secrets masked, for stderr. */
export function renderProblems(problems: readonly string[]): string {
  const lines = problems.map((p) => `  - ${redactText(p)}`);
  return [`opsgram: ${problems.length} configuration problem${problems.length === 1 ? "" : "s"}:`, ...lines, ""].join("\n");
}
