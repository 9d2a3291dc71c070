import { quoteArg } from "../commands/quote.js";
import type { RunbookCommandConfig } from "../config/file.js";
import { compileArgPattern } from "../config/patterns.js";
import { fillPlaceholders } from "../config/placeholders.js";
import { redactText } from "../shared/redact.js";
import { defineOperation, type PlanOutcome, type TargetHandle } from "./context.js";
import { StepFailedError } from "./errors.js";

/**
 * `/run <name> [args…]`: the named runbook commands of a target (opsgram.yml `commands`). The line
 * is the operator's own and trusted; every argument comes from chat and is checked against its
 * declared pattern before anything else, then enters the line only as one word quoted by
 * commands/quote.ts, in place of its `{name}`.
 */

/** Longest argument value looked at (patterns are bounded too; this bounds the regex's work). */
export const MAX_ARG_LENGTH = 300;
/** Bytes of output kept (the tail). */
const MAX_RUN_OUTPUT = 512 * 1024;

/** One command as `/run` lists it. */
export interface CommandListing {
  name: string;
  description: string;
  /** Declared arguments, in order, with their patterns. */
  args: { name: string; pattern: string }[];
  confirm: boolean;
}

export function listCommands(commands: Readonly<Record<string, RunbookCommandConfig>>): CommandListing[] {
  return Object.entries(commands).map(([name, c]) => ({ name, description: c.description, args: Object.entries(c.args).map(([a, pattern]) => ({ name: a, pattern })), confirm: c.confirm }));
}

export type CheckedRun = { ok: true; name: string; command: RunbookCommandConfig; values: Record<string, string> } | { ok: false; reason: string; unknown?: boolean };

/**
 * The name and each argument against the config, before anything else. The reason never repeats
 * the value typed (it may be a payload); it names the argument and the pattern it failed.
 */
export function checkRun(commands: Readonly<Record<string, RunbookCommandConfig>>, name: string, args: readonly string[]): CheckedRun {
  if (!Object.hasOwn(commands, name)) return { ok: false, unknown: true, reason: "Unknown command." };
  const command = commands[name]!;
  const declared = Object.entries(command.args);
  const usage = `/run ${name}${declared.map(([a]) => ` <${a}>`).join("")}`;
  if (args.length !== declared.length) return { ok: false, reason: `${name} takes ${declared.length} argument${declared.length === 1 ? "" : "s"}. Usage: ${usage}` };
  const values: Record<string, string> = {};
  for (const [i, [arg, pattern]] of declared.entries()) {
    const value = args[i]!;
    // Quoting keeps a value one word, but a program may still read `-x` as an option.
    if (value.startsWith("-")) return { ok: false, reason: `Argument ${arg} must not start with "-". Usage: ${usage}` };
    // Patterns are anchored ^…$ at load; testing the whole value again guards a pattern that only looks anchored.
    const match = value.length <= MAX_ARG_LENGTH ? compileArgPattern(pattern).exec(value) : null;
    if (!match || match[0] !== value) return { ok: false, reason: `Argument ${arg} does not match its pattern ${pattern}. Usage: ${usage}` };
    values[arg] = value;
  }
  return { ok: true, name, command, values };
}

/** The line to run: each `{arg}` replaced by its value, quoted by the one quoting module. */
export function commandLine(command: RunbookCommandConfig, values: Readonly<Record<string, string>>): string {
  const quoted = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, quoteArg(v)]));
  return fillPlaceholders(command.run, quoted);
}

/** What a run printed, masked and bounded, with how it ended. */
export interface RunOutput {
  name: string;
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
  /** stdout then stderr, redacted. */
  output: string;
}

/** Runs a checked command on the target (read-only ones directly, confirmed ones from the executor). */
export async function runChecked(target: TargetHandle, checked: Extract<CheckedRun, { ok: true }>): Promise<RunOutput> {
  const line = commandLine(checked.command, checked.values);
  const result = await target.ports.shell.execTrusted(line, {
    cwd: target.config.appDir,
    timeoutMs: checked.command.timeoutSeconds * 1000,
    maxOutputBytes: MAX_RUN_OUTPUT,
  });
  const text = [result.truncated ? "[output truncated: only the tail was kept]\n" : "", result.stdout, result.stdout && result.stderr && !result.stdout.endsWith("\n") ? "\n" : "", result.stderr].join("");
  return { name: checked.name, exitCode: result.code, timedOut: result.timedOut, durationMs: result.durationMs, output: redactText(text) };
}

export interface RunPlanData {
  name: string;
  description: string;
  /** The argument values (they matched their patterns; shown in the plan). */
  values: Record<string, string>;
  timeoutSeconds: number;
}

export function planRun(target: TargetHandle, checked: Extract<CheckedRun, { ok: true }>): PlanOutcome<RunPlanData> {
  const words = [checked.name, ...Object.values(checked.values)].join(" ");
  return {
    status: "planned",
    plan: {
      title: `▶ Run ${checked.name} on ${target.name}`,
      lockReason: `run ${words}`.slice(0, 200),
      data: { name: checked.name, description: checked.command.description, values: checked.values, timeoutSeconds: checked.command.timeoutSeconds },
    },
  };
}

/** A confirmed `/run`: re-checks against the config it runs with, then one step with the output. */
export const runDefinition = defineOperation<RunPlanData>({
  kind: "run",
  usesLock: true,
  async execute(ctx) {
    const { name, values } = ctx.plan.data;
    const declared = ctx.target.config.commands[name];
    const checked = declared ? checkRun(ctx.target.config.commands, name, Object.keys(declared.args).map((a) => values[a] ?? "")) : ({ ok: false, reason: "Unknown command." } as const);
    if (!checked.ok) throw new Error(`${name}: ${checked.reason}`);
    ctx.steps.declare([{ id: "run", title: `run ${name}` }]);
    const out = await ctx.steps.run<RunOutput>("run", `run ${name}`, async (io) => {
      const result = await runChecked(ctx.target, checked);
      io.note(result.output);
      if (result.timedOut || result.exitCode !== 0) throw new StepFailedError(`${name} ${result.timedOut ? "timed out" : `exited ${result.exitCode ?? "killed"}`}`, io.output);
      return { summary: `ran ${name}`, value: result };
    });
    return { status: "succeeded", summary: [`${name}: exit 0`], output: { filename: `run-${ctx.target.name}-${name}.txt`, text: out.output }, result: { name, exitCode: out.exitCode, outputBytes: out.output.length } };
  },
});
