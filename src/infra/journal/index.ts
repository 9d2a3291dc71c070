/**
 * The kill switch's audit trail when Postgres is down: a local fsync'd journal, an AuditLog
 * decorator that falls back to it (`appendOrJournal`), and its exactly-once replay.
 */
export { AUDIT_JOURNAL_FILE, AuditJournal, newJournalEntry, type JournalEntry } from "./audit-journal.js";
export { JournaledAuditLog, withJournalId, isDataError, type JournalReplayStore, type JournaledAuditLogOptions } from "./journaled-audit-log.js";
export { PostgresJournalReplayStore } from "./replay-store.js";
