import { escapeHtml, formatAgo, formatBytes, formatDuration, personName } from "../../shared/format.js";
import type { RichText } from "../../shared/rich-text.js";
import type { StoredPlan } from "../../operations/context.js";
import type { BackupPlanData } from "../../operations/backup.js";
import type { DeployPlanData } from "../../operations/deploy.js";
import type { DrillPlanData } from "../../operations/drill.js";
import { MAX_PLAN_COMMITS, type CommitList } from "../../operations/git-state.js";
import type { OperationKind } from "../../operations/model.js";
import type { PayoutsPlanData } from "../../operations/payouts.js";
import type { RestorePlanData } from "../../operations/restore.js";
import type { RollbackPlanData } from "../../operations/rollback.js";
import type { RestartPlanData } from "../../operations/restart.js";
import type { RunPlanData } from "../../operations/run-command.js";
import { scaleChanges, type ScalePlanData } from "../../operations/scale.js";

/**
 * Plans as the chat shows them (HTML). Operations store facts in `plan.data`; the words and the
 * markup are decided here. Every value from outside goes through escapeHtml.
 */

const short = (sha: string) => sha.slice(0, 7);
const code = (text: string) => `<code>${escapeHtml(text)}</code>`;

/** Result text with its code spans, as HTML. */
export function richHtml(text: RichText): string {
  return text.map((p) => (typeof p === "string" ? escapeHtml(p) : code(p.code))).join("");
}

/** "@alice" or "user 42", HTML-escaped. */
export function mention(actor: { userId: number | null; username: string | null }): string {
  return escapeHtml(personName(actor));
}

/** "5 min", "90 s": how long a plan stays valid. */
export function formatTimeout(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60} min` : formatDuration(seconds * 1000);
}

/** The bold title and the one-line headline every message about an operation starts with. */
export function header(kind: OperationKind, plan: StoredPlan): string {
  const headline = renderHeadline(kind, plan.data);
  return `<b>${escapeHtml(plan.title)}</b>${headline ? `\n${headline}` : ""}`;
}

/** The header when the plan may be missing (an operation cut off while planning). */
export function headerOf(op: { kind: OperationKind; target: string; plan: unknown }, fallback: (text: string) => string): string {
  const plan = op.plan as StoredPlan | null;
  return plan ? header(op.kind, plan) : fallback(escapeHtml(`${op.kind} ${op.target}`));
}

function renderHeadline(kind: OperationKind, data: unknown): string {
  switch (kind) {
    case "deploy":
    case "rollback": {
      const d = data as DeployPlanData | RollbackPlanData;
      return `${code(short(d.liveSha))} → ${code(short(d.sha))}`;
    }
    case "scale": {
      return scaleChanges(data as ScalePlanData).map((c) => `${escapeHtml(c.service)} ${c.before ?? "?"} → ${c.replicas}`).join(" · ");
    }
    case "restart":
      return `${escapeHtml((data as RestartPlanData).service)}`;
    case "run": {
      const d = data as RunPlanData;
      return escapeHtml(d.description);
    }
    case "backup": {
      const d = data as BackupPlanData | DrillPlanData;
      if (d.mode === "drill") return `restores ${code(d.path)} into a scratch database`;
      return `into ${escapeHtml(d.dir)} · keeps ${d.keep}`;
    }
    case "pause_payouts":
    case "resume_payouts": {
      const d = data as PayoutsPlanData;
      return d.pause && d.reason ? `reason: ${escapeHtml(d.reason)}` : "";
    }
    case "restore": {
      const d = data as RestorePlanData;
      return `from ${code(d.path)}`;
    }
  }
}

/** The plan's body under the header: what will change and the steps. */
export function renderPlanBody(kind: OperationKind, data: unknown): string {
  switch (kind) {
    case "deploy":
      return deployBody(data as DeployPlanData);
    case "rollback":
      return rollbackBody(data as RollbackPlanData);
    case "scale":
      return scaleBody(data as ScalePlanData);
    case "backup":
      return "";
    case "restart": {
      const d = data as RestartPlanData;
      return `${escapeHtml(d.service)}: restart ${d.containers ?? "?"} container${d.containers === 1 ? "" : "s"} in place\nSteps: restart · verify running/healthy (≤ ${formatDuration(d.verifyTimeoutMs)})`;
    }
    case "run": {
      const d = data as RunPlanData;
      const args = Object.entries(d.values).map(([k, v]) => `${escapeHtml(k)}=${code(v)}`);
      return `${args.length > 0 ? `Arguments: ${args.join(" ")}\n` : ""}Runs ${code(d.name)} from opsgram.yml in the app directory (≤ ${formatDuration(d.timeoutSeconds * 1000)}).`;
    }
    case "pause_payouts":
    case "resume_payouts":
      return payoutsBody(data as PayoutsPlanData);
    case "restore":
      return restoreBody(data as RestorePlanData);
  }
}

function restoreBody(d: RestorePlanData): string {
  const size = d.sizeBytes !== null ? formatBytes(d.sizeBytes) : "?";
  const when = `${d.createdAt.slice(0, 16).replace("T", " ")} UTC`;
  const how = d.verified ? `✓ verified (${escapeHtml(d.verification ?? "?")})` : `⚠ unverified (${escapeHtml(d.verification ?? "not checked")})`;
  return [
    `file ${code(d.path)}`,
    `taken ${when} · ${size} · ${how}${d.deploymentId !== null ? ` · taken before deploy #${d.deploymentId}` : ""}`,
    d.stopServices.length > 0 ? `stops ${escapeHtml(d.stopServices.join(", "))} during the restore, then starts them again` : "no services are stopped (backup.stopServices is empty)",
    "a safety backup of the current database is taken first (verified)",
    `then the health gate: ${escapeHtml(d.health)}`,
    "⚠ <b>Everything written to the database since that backup is replaced.</b>",
  ].join("\n");
}

function countCommits(list: CommitList): string {
  return list.more ? `more than ${MAX_PLAN_COMMITS} commits` : `${list.entries.length} commit${list.entries.length === 1 ? "" : "s"}`;
}

function listCommits(list: CommitList, mark: string): string[] {
  return list.entries.map((c) => `  ${mark} ${code(c.shortSha.slice(0, 7))} ${escapeHtml(c.subject)}`);
}

function deployBody(d: DeployPlanData): string {
  const first = d.ahead.entries[0];
  const lines = [`live ${code(short(d.liveSha))} ${escapeHtml(d.liveSubject)}`, `new  ${code(short(d.sha))} ${escapeHtml(d.ref)}${first ? ` — ${escapeHtml(first.subject)}` : ""}`];
  if (d.sha === d.liveSha) lines.push("ℹ this commit is already live: it will be rebuilt and restarted.");
  if (d.ahead.entries.length > 0) lines.push(`${countCommits(d.ahead)} new:`, ...listCommits(d.ahead, "+"));
  if (d.behind.entries.length > 0) lines.push(`⚠ ${countCommits(d.behind)} now live will be gone:`, ...listCommits(d.behind, "−"));
  lines.push(`Steps: ${escapeHtml(d.steps.join(" · "))}${d.autoRollback ? " · auto-rollback if unhealthy" : " · no auto-rollback"}`);
  return lines.join("\n");
}

function rollbackBody(d: RollbackPlanData): string {
  const lines = [`live ${code(short(d.liveSha))} ${escapeHtml(d.liveSubject)}`, `to   ${code(short(d.sha))}${d.because ? ` — ${escapeHtml(d.because)}` : ""}`];
  if (d.gone.entries.length > 0) lines.push(`${countCommits(d.gone)} leave:`, ...listCommits(d.gone, "−"));
  if (d.back.entries.length > 0) lines.push(`${countCommits(d.back)} come in:`, ...listCommits(d.back, "+"));
  const down = d.rollbackSteps && d.rollbackSteps.length > 0 ? `${escapeHtml(d.rollbackSteps.join(" · "))} (in the code being left) · ` : "";
  if (d.dbBackup) {
    const file = d.dbBackup.path.split("/").at(-1) ?? d.dbBackup.path;
    lines.push(`💾 Deployment #${d.dbBackup.deploymentId} took a backup first: ${code(file)} (${d.dbBackup.sizeBytes !== null ? formatBytes(d.dbBackup.sizeBytes) : "?"}, ${escapeHtml(d.dbBackup.createdAt.slice(0, 16).replace("T", " "))} UTC).`);
    lines.push("<b>[Code only]</b> leaves the database as it is. <b>[Code + restore DB]</b> then restores that file (a safety backup of the current database is taken first; everything written since is replaced).");
  } else {
    lines.push("⚠ <b>The database is NOT restored</b>: migrations that ran since stay applied.");
  }
  lines.push(`Steps: ${down}checkout · build · up -d · health${d.healthUrl ? ` (${escapeHtml(d.healthUrl)})` : ""}`);
  return lines.join("\n");
}

function scaleBody(d: ScalePlanData): string {
  const changes = scaleChanges(d);
  const flags = changes.map((c) => `--scale ${escapeHtml(c.service)}=${c.replicas}`).join(" ");
  const verify = changes.length === 1 ? `verify ${changes[0]!.replicas} running/healthy` : "verify each count running/healthy";
  return [
    ...changes.map((c) => `${escapeHtml(c.service)}: ${c.before ?? "?"} → ${c.replicas} running${c.bounds ? ` (allowed ${c.bounds.min}–${c.bounds.max})` : ""}`),
    ...(changes.every((c) => c.before === c.replicas) ? ["ℹ already at that count: compose will only start stopped replicas."] : []),
    `Steps: up -d --no-recreate ${flags} · ${verify} (≤ ${formatDuration(d.verifyTimeoutMs)})`,
    "The count is kept: later deploys and rollbacks pass it to compose.",
  ].join("\n");
}

function payoutsBody(d: PayoutsPlanData): string {
  const c = d.current;
  const state = c?.paused
    ? `now: PAUSED by ${escapeHtml(personName({ userId: c.byUserId, username: c.byName }))} ${formatAgo(new Date(c.since), new Date(d.plannedAt))}${c.reason ? `: ${escapeHtml(c.reason)}` : ""}`
    : "now: running (as far as opsgram knows)";
  return `${state}\nRuns payouts.${d.pause ? "pause" : "resume"}, then checks payouts.status.`;
}
