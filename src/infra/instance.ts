import { hostname } from "node:os";

/** Postgres keeps application_name to 63 bytes (NAMEDATALEN - 1). */
const MAX_APPLICATION_NAME = 63;
const PREFIX = "opsgram:";

/** Who this process is, as other opsgram processes see it: its pid and host. */
export interface InstanceId {
  pid: number;
  host: string;
}

/**
 * This process's name on its Postgres connections (`opsgram:<pid>@<host>`). The leader's
 * connection carries it, so a standby can say who leads and the alert outbox can tell whether a
 * claim belongs to the live leader, without a table of their own.
 */
export function instanceName(id: InstanceId = { pid: process.pid, host: hostname() }): string {
  return `${PREFIX}${id.pid}@${id.host.replace(/[^\x20-\x7e]/g, "?")}`.slice(0, MAX_APPLICATION_NAME);
}

/** The pid and host in an application_name written by `instanceName`, or null for anything else. */
export function parseInstanceName(name: string | null | undefined): InstanceId | null {
  const match = /^opsgram:(\d+)@(.*)$/.exec(name ?? "");
  return match ? { pid: Number(match[1]), host: match[2] ?? "" } : null;
}
