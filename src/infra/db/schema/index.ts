/**
 * The database schema, one file per table. drizzle-kit reads this file (drizzle.config.ts) to
 * generate migrations, and the drizzle client is typed with it.
 */
export * from "./audit-events.js";
export * from "./processed-updates.js";
export * from "./operations.js";
export * from "./deployments.js";
export * from "./locks.js";
export * from "./backups.js";
export * from "./payouts-state.js";
export * from "./incidents.js";
export * from "./alert-outbox.js";
export * from "./mutes.js";
export * from "./audit-digests.js";
export * from "./health-watch.js";
