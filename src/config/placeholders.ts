/**
 * `{name}` placeholders in operator-written command lines (`backup.copy`, `targets.<t>.commands.*.run`).
 * One pattern, shared by the validator and by whoever substitutes, so both agree on what a
 * placeholder is. `${VAR}` is the shell's own syntax and is left alone: a `{` right after `$` does
 * not open a placeholder.
 */
const PLACEHOLDER = /(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Every placeholder name in `text`, in order of appearance, repeats included. */
export function placeholdersIn(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
}

/**
 * Replaces each `{name}` with `values[name]`, which the caller has already quoted (only
 * src/commands/quote.ts quotes). A name without a value is an error, never an empty string.
 */
export function fillPlaceholders(text: string, values: Readonly<Record<string, string>>): string {
  return text.replace(PLACEHOLDER, (_whole, name: string) => {
    if (!Object.hasOwn(values, name)) throw new Error(`no value for placeholder {${name}}`);
    return values[name] as string;
  });
}
