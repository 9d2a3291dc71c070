import { Cron } from "croner";

/**
 * Checks a schedule from opsgram.yml: five fields (minute hour day-of-month month day-of-week,
 * evaluated in UTC) or a nickname such as `@daily`. croner also accepts a six-field form with
 * seconds first, where `0 3 * * * *` means "minute 3 of every hour" to a reader who expects five
 * fields: that form is refused rather than silently running 24 times a day.
 */
export function cronProblem(expression: string): string | null {
  const trimmed = expression.trim();
  if (!trimmed.startsWith("@") && trimmed.split(/\s+/).length !== 5) {
    return "must have five fields: minute hour day-of-month month day-of-week (UTC)";
  }
  try {
    const job = new Cron(trimmed, { paused: true, timezone: "UTC" });
    const next = job.nextRun();
    job.stop();
    return next ? null : "never runs";
  } catch (err) {
    return (err instanceof Error ? err.message : String(err)).replace(/^CronPattern: /, "");
  }
}
