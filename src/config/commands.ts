import { z } from "zod";
import { isWholeAnchored, regexProblem } from "./patterns.js";
import { placeholdersIn, placeholdersInsideQuotes } from "./placeholders.js";

/**
 * `targets.<t>.commands`: the small, specific commands of a team's runbook, run from chat with
 * `/run <name> [args…]`. The line is the operator's own and trusted; the arguments come from chat
 * and are not: each must match its declared pattern whole, and reaches the line only through the
 * one quoting module, in place of its `{name}`.
 */

/** Argument names appear as `{name}` in `run` and are typed nowhere else. */
export const ARG_NAME = /^[a-z][a-z0-9_]{0,31}$/;

const argPattern = z.string().min(2).max(300).superRefine((source, ctx) => {
  const problem = regexProblem(source);
  if (problem) ctx.addIssue({ code: "custom", message: `is not a valid regular expression: ${problem}` });
  else if (!isWholeAnchored(source)) ctx.addIssue({ code: "custom", message: "must be anchored as a whole: ^…$ with no top-level |, e.g. '^(a|b)$'" });
});

export const runbookCommand = z
  .strictObject({
    /** Shown by `/run` with no arguments. */
    description: z.string().trim().min(1).max(200).regex(/^[^\n\r]*$/, { error: "must be one line" }),
    run: z.string().trim().min(1, { error: "must not be empty" }),
    /** false: read-only, runs at once. true: plan, Confirm, target lock. */
    confirm: z.boolean().default(true),
    args: z.record(z.string().regex(ARG_NAME, { error: "argument names must match [a-z][a-z0-9_]* (max 32 chars)" }), argPattern).default({}),
    timeoutSeconds: z.number().min(1).max(3600).default(120),
  })
  .superRefine((c, ctx) => {
    const used = placeholdersIn(c.run);
    for (const name of new Set(used)) {
      if (!Object.hasOwn(c.args, name)) ctx.addIssue({ code: "custom", path: ["run"], message: `uses {${name}}, which is not declared under args` });
    }
    for (const name of new Set(placeholdersInsideQuotes(c.run))) {
      ctx.addIssue({ code: "custom", path: ["run"], message: `has {${name}} inside quotes: opsgram quotes the value itself, so put {${name}} outside quotes` });
    }
    for (const name of Object.keys(c.args)) {
      if (!used.includes(name)) ctx.addIssue({ code: "custom", path: ["args", name], message: `is declared but run does not use {${name}}` });
    }
  });

export type RunbookCommandConfig = z.output<typeof runbookCommand>;
