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

/**
 * Placeholders that sit inside shell quotes (`"… {x} …"` or `'… {x} …'`). opsgram quotes each value
 * as one shell word; inside double quotes that quoting turns into literal characters and `$(…)` in
 * the value would run. A placeholder must therefore stand outside quotes.
 */
export function placeholdersInsideQuotes(text: string): string[] {
  const quotedAt = shellQuoteMap(text);
  return [...text.matchAll(PLACEHOLDER)].filter((m) => quotedAt[m.index]).map((m) => m[1] as string);
}

/** For each character of a POSIX shell line: is it inside single or double quotes? */
function shellQuoteMap(text: string): boolean[] {
  const quoted: boolean[] = [];
  let state: "none" | "single" | "double" = "none";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    quoted[i] = state !== "none";
    if (state === "single") {
      if (c === "'") state = "none";
    } else if (c === "\\") {
      quoted[i + 1] = true;
      i++;
    } else if (state === "double") {
      if (c === '"') state = "none";
    } else if (c === "'") state = "single";
    else if (c === '"') state = "double";
  }
  return quoted;
}
