import { escapeHtml, formatDuration } from "../../shared/format.js";
import type { CommandListing, RunOutput } from "../../operations/run-command.js";
import { MAX_MESSAGE_CHARS } from "./progress-message.js";
import type { ReadReply } from "./render-status.js";

/**
 * `/run` as the chat shows it: the list of a target's runbook commands, and the output of a
 * read-only one (in the message when it fits, else as a file). Output is masked by operations.
 */

/** The list: name, arguments with their patterns, description, and whether it asks for Confirm. */
export function renderCommands(target: string, commands: readonly CommandListing[], unknown: string | null): string {
  const head = unknown !== null ? `Unknown command. Commands on ${escapeHtml(target)}:` : `Commands on ${escapeHtml(target)}:`;
  if (commands.length === 0) return `${unknown !== null ? "Unknown command. " : ""}No commands are configured for ${escapeHtml(target)} (targets.${escapeHtml(target)}.commands in opsgram.yml).`;
  const lines = commands.map((c) => {
    const args = c.args.map((a) => ` &lt;${escapeHtml(a.name)}&gt;`).join("");
    const patterns = c.args.length > 0 ? `\n   ${c.args.map((a) => `${escapeHtml(a.name)}: <code>${escapeHtml(a.pattern)}</code>`).join(" · ")}` : "";
    return `• <code>/run ${escapeHtml(c.name)}</code>${args} — ${escapeHtml(c.description)}${c.confirm ? " (asks for Confirm)" : ""}${patterns}`;
  });
  return `${head}\n${lines.join("\n")}`;
}

/** A read-only command's result: exit status line, then the output. */
export function renderRunOutput(target: string, run: RunOutput): ReadReply {
  const ok = run.exitCode === 0 && !run.timedOut;
  const how = run.timedOut ? "timed out" : run.exitCode === null ? "was killed" : `exit ${run.exitCode}`;
  const caption = `${ok ? "✅" : "❌"} ${run.name} on ${target}: ${how} in ${formatDuration(run.durationMs)}`;
  const content = run.output.trimEnd();
  const html = `${escapeHtml(caption)}\n${content ? `<pre>${escapeHtml(content)}</pre>` : "(no output)"}`;
  if (html.length > MAX_MESSAGE_CHARS) return { status: "document", filename: `run-${target}-${run.name}.txt`, content, caption: escapeHtml(caption) };
  return { status: "ok", html };
}
