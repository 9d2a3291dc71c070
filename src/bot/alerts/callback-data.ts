/**
 * The alert buttons' `callback_data`, shared by the renderer (which puts the buttons on alert
 * messages) and the alerts feature (which handles presses). ≤ 64 bytes by construction: a short
 * prefix, an incident id and, for Mute, minutes.
 */

export const ALERT_CALLBACK_PREFIX = "alerts:";

/** Mute lengths offered on alert messages, in minutes. */
export const MUTE_CHOICES_MINUTES = [60, 1440] as const;

export type AlertAction = { action: "ack"; incidentId: number } | { action: "mute"; incidentId: number; minutes: number };

export function ackData(incidentId: number): string {
  return `${ALERT_CALLBACK_PREFIX}ack:${incidentId}`;
}

export function muteData(incidentId: number, minutes: number): string {
  return `${ALERT_CALLBACK_PREFIX}mute:${incidentId}:${minutes}`;
}

/** Parses a button's data; null for anything that is not exactly one of ours. */
export function parseAlertData(data: string): AlertAction | null {
  const ack = /^alerts:ack:(\d{1,15})$/.exec(data);
  if (ack) return { action: "ack", incidentId: Number(ack[1]) };
  const mute = /^alerts:mute:(\d{1,15}):(\d{1,5})$/.exec(data);
  if (mute) {
    const minutes = Number(mute[2]);
    // Only lengths we offer: the data comes from a client and must not pick arbitrary mutes.
    if (!(MUTE_CHOICES_MINUTES as readonly number[]).includes(minutes)) return null;
    return { action: "mute", incidentId: Number(mute[1]), minutes };
  }
  return null;
}
