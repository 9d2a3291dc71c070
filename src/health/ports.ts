import type { Incident, IncidentMessage, Mute } from "./types.js";

/**
 * What the health service needs from storage. Implemented over Postgres in
 * src/infra/db/repos/{incidents,alert-outbox,mutes}.ts; unit tests use an in-memory fake.
 */

export type OutboxKind = "open" | "update" | "recovery" | "reminder";

/** A message to send or edit, queued durably before anything is sent. */
export interface OutboxItem {
  id: number;
  incidentId: number | null;
  chatId: number;
  /**
   * open: post the incident's alert (coalesced with other opens queued for the chat);
   * update: re-render and edit the message the incident is shown in;
   * recovery / reminder: post `text` (coalesced with others of the kind queued for the chat).
   */
  kind: OutboxKind;
  /** The line as rendered when queued; recovery and reminder messages are sent from it. */
  text: string;
  createdAt: Date;
  attempts: number;
  nextAttemptAt: Date;
}

export interface NewOutboxItem {
  chatId: number;
  kind: OutboxKind;
  text: string;
}

/** Incidents and mutes, for the service (which owns every incident column but `messages`). */
export interface IncidentStore {
  /** Unresolved incidents, to rebuild the engine after a restart. */
  loadUnresolved(): Promise<Incident[]>;
  /** Mutes with `until` after `now`. */
  loadMutes(now: Date): Promise<Mute[]>;
  /**
   * Inserts (when `incident.id` is 0) or updates an incident — every column except `messages`,
   * which only the dispatcher writes — and queues `outbox` for it, in one transaction. Returns the id.
   */
  saveIncident(incident: Incident, outbox: readonly NewOutboxItem[], at: Date): Promise<number>;
  saveMute(mute: Mute): Promise<void>;
  /** Incidents by id (any state). */
  incidentsByIds(ids: readonly number[]): Promise<Incident[]>;
  /** Incidents shown in one chat message (a coalesced burst shares one). */
  incidentsOnMessage(message: IncidentMessage): Promise<Incident[]>;
}

/** The outbox, for the dispatcher. */
export interface OutboxStore {
  /**
   * Undelivered items not given up, oldest first, due or not: the dispatcher keeps each chat's
   * order, so an item waiting for its retry holds back the ones queued after it.
   */
  pending(limit: number): Promise<OutboxItem[]>;
  /**
   * Marks items delivered; when `message` is given and `attachTo` is not empty, records it as the
   * message those incidents are shown in (same transaction), so edits and restarts find it.
   */
  delivered(itemIds: readonly number[], at: Date, message: IncidentMessage | null, attachTo: readonly number[]): Promise<void>;
  /** Counts an attempt and postpones the items. */
  retryLater(itemIds: readonly number[], nextAttemptAt: Date, error: string): Promise<void>;
  /** Gives the items up (Telegram refused them for good); kept for the record. */
  giveUp(itemIds: readonly number[], at: Date, error: string): Promise<void>;
  incidentsByIds(ids: readonly number[]): Promise<Incident[]>;
  incidentsOnMessage(message: IncidentMessage): Promise<Incident[]>;
  /** Mutes in force, to show "muted until" on edits. */
  loadMutes(now: Date): Promise<Mute[]>;
}

/**
 * Latest successful backup of a target (the backups table). Shaped like the operations'
 * BackupsRepo, so `repos.backups` can be passed as is.
 */
export interface BackupAges {
  lastSucceeded(target: string): Promise<{ createdAt: Date } | null>;
}

export interface PayoutsPause {
  paused: boolean;
  since: Date;
  byName: string | null;
  reason: string | null;
}

/** Whether payouts are paused on a target (payouts_state). Shaped like the operations' PayoutsRepo. */
export interface PayoutsStates {
  get(target: string): Promise<PayoutsPause | null>;
}
