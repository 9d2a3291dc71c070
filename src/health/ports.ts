import type { InlineButton } from "../shared/ports.js";
import type { Incident, IncidentMessage, Mute } from "./types.js";

/**
 * What the health service needs from storage and from the chat layer, injected by app.ts. Storage
 * is implemented over Postgres in src/infra/db/repos/{incidents,alert-outbox,mutes,health-readers}.ts
 * (unit tests use an in-memory fake); rendering in src/bot/alerts/render.ts.
 */

/** `notice`: a message of its own from outside health/ (an operation's outcome, a frozen target), HTML as queued. */
export type OutboxKind = "open" | "update" | "recovery" | "reminder" | "notice";

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

/** Incidents, for the service and the dispatcher (the service owns every column but `messages`). */
export interface IncidentStore {
  /** Unresolved incidents, to rebuild the engine after a restart. */
  loadUnresolved(): Promise<Incident[]>;
  /**
   * Inserts (when `incident.id` is 0) or updates an incident — every column except `messages`,
   * which only the dispatcher writes — and queues `outbox` for it, in one transaction. Returns the id.
   */
  saveIncident(incident: Incident, outbox: readonly NewOutboxItem[], at: Date): Promise<number>;
  /** Incidents by id (any state). */
  incidentsByIds(ids: readonly number[]): Promise<Incident[]>;
  /** Incidents shown in one chat message (a coalesced burst shares one). */
  incidentsOnMessage(message: IncidentMessage): Promise<Incident[]>;
}

/** Mutes by scope key; a mute outlives the incident it was pressed on. */
export interface MuteStore {
  /** Mutes with `until` after `now`. */
  loadMutes(now: Date): Promise<Mute[]>;
  /** Upserts by key. */
  saveMute(mute: Mute): Promise<void>;
  deleteMute(key: string): Promise<void>;
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
  /** Deletes delivered rows older than `before`. */
  pruneDelivered(before: Date): Promise<number>;
  /** Queues items with no incident (`notice`), delivered and retried like every alert. */
  enqueue?(items: readonly NewOutboxItem[]): Promise<void>;
}

/** Everything health/ keeps, as app.ts hands it over. */
export interface HealthStores {
  incidents: IncidentStore;
  mutes: MuteStore;
  outbox: OutboxStore;
}

/** A rendered chat message: text plus inline buttons (rows). */
export interface RenderedAlert {
  text: string;
  buttons: InlineButton[][];
}

/**
 * How incidents become chat text and buttons. Implemented in bot/ (Telegram's concern); health/
 * decides what to say and when, never how it looks.
 */
export interface AlertRenderer {
  /** One line for the outbox record: "🔴 prod: web exited (code 137)". */
  alertLine(incident: Incident): string;
  /** "🟢 prod: web recovered after 3 min 12 s" */
  recoveryLine(incident: Incident): string;
  /** "⏰ prod: still down after 1 h 5 min — …" */
  reminderLine(incident: Incident, now: Date): string;
  /** The alert message for one incident or a coalesced burst, from current state. */
  alertMessage(incidents: readonly Incident[], mutedUntil: (i: Incident) => Date | null): RenderedAlert;
  recoveryMessage(lines: readonly string[]): string;
  /** Reminders coalesced; `only` is set when one incident is reminded (it gets its buttons). */
  reminderMessage(lines: readonly string[], only: Incident | null): RenderedAlert;
}

/**
 * Latest successful backup of a target (the backups table). Shaped like the operations'
 * BackupsRepo, plus when watching began.
 */
export interface BackupAges {
  lastSucceeded(target: string): Promise<{ createdAt: Date } | null>;
  /** When backups of the target were first watched (stored at the first call, so it survives restarts). */
  watchingSince(target: string, now: Date): Promise<Date>;
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

/** What Telegram reports about the app's own bot's webhook (getWebhookInfo), in our units. */
export interface WebhookStatus {
  /** "" when no webhook is set. */
  url: string;
  pendingUpdateCount: number;
  /** Unix seconds of the most recent delivery error, as Telegram reports it; null when none. */
  lastErrorDate: number | null;
  lastErrorMessage: string | null;
}

/**
 * `refused`: Telegram answered and refused the token (401/404: revoked or wrong); `unreachable`:
 * no usable answer (network, 5xx, 429), which says nothing about the app's webhook.
 */
export type WebhookLookup =
  | { status: "ok"; info: WebhookStatus }
  | { status: "refused"; error: string }
  | { status: "unreachable"; error: string };

/**
 * getWebhookInfo for one app bot, against opsgram's own Bot API root. The token is bound in by
 * app.ts (infra/telegram/webhook-info.ts), so health/ never holds it.
 */
export interface WebhookInfoSource {
  lookup(): Promise<WebhookLookup>;
}

/** A certificate as read from a TLS handshake made by the bot. */
export interface TlsCertificateReport {
  validFrom: Date;
  validTo: Date;
  /** Names the certificate is for (subject CN and DNS/IP alt names), for the mismatch message. */
  names: string[];
  /** Why the chain does not verify against the trusted roots (OpenSSL code, e.g. SELF_SIGNED_CERT_IN_CHAIN); null when it does. */
  chainError: string | null;
  /** Why the certificate is not valid for the host checked; null when it is. */
  nameError: string | null;
}

export type TlsProbeResult = { status: "ok"; certificate: TlsCertificateReport } | { status: "failed"; error: string };

/** Connects to host:port, completes a handshake without trusting it, and reports the certificate. */
export interface TlsProbe {
  probe(host: string, port: number, timeoutMs: number): Promise<TlsProbeResult>;
}
