/**
 * Rules for the regular expressions operators write in opsgram.yml to gate what chat may pass
 * (`commands.*.args`). A pattern that is not anchored at both ends lets `1; rm -rf /` through a
 * check for "contains a digit", so we insist on `^…$` around the whole expression.
 */

/** The one way an argument pattern is compiled, so that the validator and `/run` agree on it. */
export function compileArgPattern(source: string): RegExp {
  return new RegExp(source);
}

/** Compiles `source`, or returns why it does not compile. */
export function regexProblem(source: string): string | null {
  try {
    compileArgPattern(source);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message.replace(/^Invalid regular expression: /, "") : String(err);
  }
}

/**
 * True when `source` starts with `^`, ends with an unescaped `$`, and has no `|` outside groups and
 * classes: `^a|b$` is anchored on one side per branch only, and matches `xxb`.
 */
export function isWholeAnchored(source: string): boolean {
  if (!source.startsWith("^") || !endsWithUnescapedDollar(source)) return false;
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") {
      i++;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      continue;
    }
    if (c === "[") inClass = true;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "|" && depth === 0) return false;
  }
  return true;
}

function endsWithUnescapedDollar(source: string): boolean {
  if (!source.endsWith("$")) return false;
  let backslashes = 0;
  for (let i = source.length - 2; i >= 0 && source[i] === "\\"; i--) backslashes++;
  return backslashes % 2 === 0;
}
