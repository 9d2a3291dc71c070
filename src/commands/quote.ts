/**
 * The one place where arguments become a shell command line.
 *
 * Remote commands run through the SSH user's login shell, so every argument is wrapped in single
 * quotes (inside which a POSIX shell interprets nothing) and embedded single quotes become '\''.
 * Inputs from chat are validated against strict patterns long before they get here; this is the
 * second wall, not the first. NUL cannot be represented in an argument, so it is refused outright.
 */
export function quoteArg(arg: string): string {
  if (arg.includes("\0")) throw new TypeError("argument contains a NUL byte");
  if (arg !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Joins an argument list into one command line for `sh -c`, quoting every element. */
export function toCommandLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new TypeError("empty command");
  return argv.map(quoteArg).join(" ");
}
