import { z } from "zod";

/**
 * Who may do what (issue 12): roles per Telegram user id, the minimum role per command, and the
 * commands whose Confirm must come from a second person.
 */

export const ROLES = ["viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

/**
 * Commands whose Confirm can be asked of a second person: what `fourEyes: true` covers. /lock is
 * not one: freezing only stops things, and like the kill switch it must work for one person.
 */
export const MUTATING_COMMANDS = [
  "deploy",
  "rollback",
  "scale",
  "restart",
  "backup",
  "run",
  "unlock",
  "pause_payouts",
  "resume_payouts",
  "restore",
] as const;
export type MutatingCommand = (typeof MUTATING_COMMANDS)[number];

/** The default minimum role of every command, as issue 12 lists them. */
export const DEFAULT_MIN_ROLE = {
  status: "viewer",
  logs: "viewer",
  alerts: "viewer",
  audit: "viewer",
  backups: "viewer",
  help: "viewer",
  whoami: "viewer",
  deploy: "operator",
  rollback: "operator",
  scale: "operator",
  restart: "operator",
  backup: "operator",
  run: "operator",
  lock: "operator",
  pause_payouts: "operator",
  mute: "operator",
  unmute: "operator",
  restore: "admin",
  unlock: "admin",
  resume_payouts: "admin",
} as const satisfies Record<string, Role>;
export type CommandName = keyof typeof DEFAULT_MIN_ROLE;
export const COMMAND_NAMES = Object.keys(DEFAULT_MIN_ROLE) as CommandName[];

const role = z.enum(ROLES, { error: (i) => `${JSON.stringify(i.input)} is not a role (viewer, operator or admin)` });
const commandName = z.enum(COMMAND_NAMES as [CommandName, ...CommandName[]], {
  error: (i) => `${JSON.stringify(i.input)} is not a command (one of ${COMMAND_NAMES.join(", ")})`,
});
const mutatingCommand = z.enum(MUTATING_COMMANDS, {
  error: (i) => `${JSON.stringify(i.input)} is not a command with a Confirm (one of ${MUTATING_COMMANDS.join(", ")})`,
});

export const access = z.strictObject({
  /** Telegram user id → role, in every admin chat. ADMIN_USER_IDS still works and means admin. */
  roles: z.record(z.string().regex(/^\d{1,16}$/, { error: "user ids must be numbers (quote them: \"123456789\")" }), role).default({}),
  /** Overrides of DEFAULT_MIN_ROLE. A typo here must not silently leave a command open, hence the closed list. */
  commands: z.partialRecord(commandName, role).default({}),
});

/**
 * `fourEyes: true` (every mutating command), `false` (none), or a list of command names. Handed on
 * as the list, so a consumer asks one question: `fourEyes.includes(kind)`.
 */
export const fourEyes = z
  .preprocess(
    (v) => (v === true ? [...MUTATING_COMMANDS] : v === false ? [] : v),
    z.array(mutatingCommand, { error: "must be true, false or a list of command names" }),
  )
  .optional()
  .transform((list): MutatingCommand[] => list ?? []);

export type AccessConfig = z.output<typeof access>;
export type FourEyesConfig = z.output<typeof fourEyes>;

/** Whether a Confirm for `command` must come from someone other than the requester. */
export function requiresFourEyes(setting: readonly string[], command: string): boolean {
  return setting.includes(command);
}
