import type { ContainerHealth, ContainerState, ContainerSummary, DockerEvent } from "../../shared/ports.js";

/**
 * Pure translations from Docker Engine API shapes to the ports' types, kept apart from the
 * transport so they are unit-tested with recorded payloads.
 */

export const LABEL_PROJECT = "com.docker.compose.project";
export const LABEL_SERVICE = "com.docker.compose.service";
export const LABEL_NUMBER = "com.docker.compose.container-number";

const STATES: readonly ContainerState[] = ["created", "running", "paused", "restarting", "removing", "exited", "dead"];
const HEALTH: readonly ContainerHealth[] = ["healthy", "unhealthy", "starting", "none"];

/** The subset of `GET /containers/{id}/json` we read. */
export interface InspectPayload {
  Id: string;
  Name?: string;
  Config?: { Image?: string; Labels?: Record<string, string> | null; Tty?: boolean } | null;
  State?: {
    Status?: string;
    StartedAt?: string;
    ExitCode?: number;
    OOMKilled?: boolean;
    Health?: { Status?: string } | null;
  } | null;
}

/** The subset of a `GET /containers/json` entry we read. */
export interface ListPayload {
  Id: string;
  Names?: string[];
  Image?: string;
  State?: string;
  Status?: string;
  Labels?: Record<string, string> | null;
}

function state(value: string | undefined): ContainerState {
  return STATES.includes(value as ContainerState) ? (value as ContainerState) : "dead";
}

function health(value: string | undefined): ContainerHealth {
  return HEALTH.includes(value as ContainerHealth) ? (value as ContainerHealth) : "none";
}

/** Docker prints "0001-01-01T00:00:00Z" for a container that never started. */
function startedAt(value: string | undefined): Date | null {
  if (!value || value.startsWith("0001-")) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

function replicaNumber(labels: Record<string, string>): number {
  const n = Number.parseInt(labels[LABEL_NUMBER] ?? "", 10);
  return Number.isInteger(n) && n > 0 ? n : 1;
}

/** Health as the list endpoint shows it inside Status: "Up 3 minutes (healthy)", "(health: starting)". */
export function healthFromStatusText(status: string | undefined): ContainerHealth {
  const match = /\((healthy|unhealthy|health: starting)\)/.exec(status ?? "");
  if (!match) return "none";
  return match[1] === "health: starting" ? "starting" : (match[1] as ContainerHealth);
}

/** A container as inspect shows it: the full picture (exit code, OOM, start time). */
export function summaryFromInspect(info: InspectPayload): ContainerSummary {
  const labels = info.Config?.Labels ?? {};
  const s = state(info.State?.Status);
  return {
    id: info.Id,
    name: (info.Name ?? "").replace(/^\//, ""),
    service: labels[LABEL_SERVICE] ?? "",
    number: replicaNumber(labels),
    state: s,
    health: health(info.State?.Health?.Status),
    image: info.Config?.Image ?? "",
    startedAt: startedAt(info.State?.StartedAt),
    // While it runs (or never ran) Docker reports 0, which is not an exit.
    exitCode: s === "exited" || s === "dead" ? (info.State?.ExitCode ?? null) : null,
    oomKilled: info.State?.OOMKilled === true,
  };
}

/** A container as the list endpoint shows it (no exit code, OOM or start time there). */
export function summaryFromList(entry: ListPayload): ContainerSummary {
  const labels = entry.Labels ?? {};
  return {
    id: entry.Id,
    name: (entry.Names?.[0] ?? "").replace(/^\//, ""),
    service: labels[LABEL_SERVICE] ?? "",
    number: replicaNumber(labels),
    state: state(entry.State),
    health: healthFromStatusText(entry.Status),
    image: entry.Image ?? "",
    startedAt: null,
    exitCode: null,
    oomKilled: false,
  };
}

/** Order for display and for tests: by service, then replica number. */
export function compareContainers(a: ContainerSummary, b: ContainerSummary): number {
  return a.service.localeCompare(b.service) || a.number - b.number || a.name.localeCompare(b.name);
}

/** One parsed `/events` message, with its nanosecond time kept exact (it does not fit a double). */
export interface ParsedEvent {
  event: DockerEvent;
  timeNano: bigint;
}

interface EventPayload {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  time?: number;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** Parses one line of the `/events` JSON stream; null for anything that is not a container event. */
export function parseEventLine(line: string): ParsedEvent | null {
  const trimmed = line.trim();
  if (trimmed === "") return null;
  let payload: EventPayload;
  try {
    payload = JSON.parse(trimmed) as EventPayload;
  } catch {
    return null;
  }
  if (payload.Type !== undefined && payload.Type !== "container") return null;
  const action = payload.Action ?? payload.status;
  const containerId = payload.Actor?.ID ?? payload.id;
  if (!action || !containerId) return null;
  const attributes = payload.Actor?.Attributes ?? {};
  const nanoText = /"timeNano"\s*:\s*(\d+)/.exec(trimmed)?.[1];
  const timeNano = nanoText ? BigInt(nanoText) : BigInt(Math.trunc((payload.time ?? 0) * 1e9));
  const exit = attributes.exitCode;
  return {
    timeNano,
    event: {
      action,
      containerId,
      containerName: attributes.name ?? "",
      service: attributes[LABEL_SERVICE],
      project: attributes[LABEL_PROJECT],
      exitCode: exit !== undefined && /^-?\d+$/.test(exit) ? Number(exit) : undefined,
      time: new Date(Number(timeNano / 1_000_000n)),
    },
  };
}

/**
 * Splits a byte stream of newline-delimited JSON into lines, holding a partial last line until the
 * rest arrives (a chunk boundary can fall anywhere).
 */
export class LineSplitter {
  private pending = "";

  push(chunk: string): string[] {
    this.pending += chunk;
    const lines = this.pending.split("\n");
    this.pending = lines.pop() ?? "";
    return lines;
  }
}
