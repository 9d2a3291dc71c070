/** Escapes text for Telegram's HTML parse mode. Everything interpolated into HTML goes through it. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** "3 min 12 s", "2 h 5 min", "4.2 s" — for durations shown to a human. */
export function formatDuration(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** "2h ago" style, for /status lines. */
export function formatAgo(then: Date, now: Date): string {
  return `${formatDuration(Math.max(0, now.getTime() - then.getTime())).replace(/ \d+ s$/, "")} ago`;
}

/** The last `n` non-empty lines of command output. */
export function lastLines(output: string, n: number): string {
  const lines = output.replace(/\r/g, "").split("\n");
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === "") lines.pop();
  return lines.slice(-n).join("\n");
}

/** "12.3 MB" for a byte count. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * How a person is shown everywhere: `@username`, or `user <id>` when they have none — never a
 * first name, which anyone can set to look like someone else's username. Plain text: escape it
 * for HTML where it goes into HTML.
 */
export function personName(who: { userId: number | null | undefined; username: string | null | undefined }): string {
  if (who.username) return `@${who.username}`;
  return who.userId !== null && who.userId !== undefined ? `user ${who.userId}` : "someone";
}
