/**
 * Mute lengths as typed in chat: a whole number and a unit, `30m`, `4h`, `2d`. At most 7 days, so
 * a forgotten mute cannot silence a service for good.
 */

export const MAX_MUTE_MINUTES = 7 * 24 * 60;

const UNIT_MINUTES = { m: 1, h: 60, d: 24 * 60 } as const;

/** Minutes, or an error sentence for the chat. */
export function parseMuteDuration(word: string): { minutes: number } | { error: string } {
  const m = /^(\d{1,5})([mhd])$/.exec(word.trim().toLowerCase());
  if (!m) return { error: `"${word.slice(0, 20)}" is not a duration: use a number and m, h or d, like 30m, 4h or 2d` };
  const minutes = Number(m[1]) * UNIT_MINUTES[m[2] as keyof typeof UNIT_MINUTES];
  if (minutes < 1) return { error: "a mute lasts at least 1 minute" };
  if (minutes > MAX_MUTE_MINUTES) return { error: "a mute lasts at most 7 days (7d)" };
  return { minutes };
}

/** "30 min", "4 h", "2 d", "1 h 30 min" */
export function formatMinutes(minutes: number): string {
  if (minutes % 1440 === 0) return `${minutes / 1440} d`;
  if (minutes % 60 === 0) return `${minutes / 60} h`;
  if (minutes > 60) return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  return `${minutes} min`;
}
