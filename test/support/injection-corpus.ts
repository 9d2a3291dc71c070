/**
 * Hostile chat input, shared by every injection test (validators, command builders, operations).
 *
 * Payloads that try to run something do it with `touch MARK`, relative on purpose: run them in an
 * empty temp dir and assert it stays empty. Every payload must be refused by every validator in
 * commands/validate.ts (so none of them is a plausible branch name, sha, service or count).
 */

/** The file a successful injection would create (relative to the working directory). */
export const MARKER = "MARK";

export interface InjectionPayload {
  /** Short description for test names. */
  name: string;
  value: string;
}

export const INJECTION_PAYLOADS: readonly InjectionPayload[] = [
  { name: "semicolon", value: `; touch ${MARKER}` },
  { name: "ref then semicolon", value: `main; touch ${MARKER}` },
  { name: "command substitution", value: `$(touch ${MARKER})` },
  { name: "backticks", value: `\`touch ${MARKER}\`` },
  { name: "ref with backticks", value: `main\`touch ${MARKER}\`` },
  { name: "git --upload-pack", value: `--upload-pack=touch ${MARKER}` },
  { name: "git -c core.sshCommand", value: `-c core.sshCommand=touch ${MARKER}` },
  { name: "git --output", value: `--output=${MARKER}` },
  { name: "leading dash", value: "-rf" },
  { name: "path traversal", value: "../../etc/passwd" },
  { name: "dot dot in ref", value: "main..HEAD" },
  { name: "newline", value: `main\ntouch ${MARKER}` },
  { name: "carriage return", value: `main\rtouch ${MARKER}` },
  { name: "NUL", value: "main\0touch" },
  { name: "tab", value: "main\tx" },
  { name: "cyrillic a look-alike", value: "m\u0430in" },
  { name: "fullwidth digits", value: "\uFF13" },
  { name: "arabic-indic digit", value: "\u0663" },
  { name: "zero-width space", value: "main\u200B" },
  { name: "10,000 chars", value: "a".repeat(10_000) },
  { name: "empty", value: "" },
  { name: "space only", value: " " },
  { name: "semicolon id", value: "main;id" },
  { name: "pipe", value: "main|id" },
  { name: "and-and", value: `main&&touch ${MARKER}` },
  { name: "or-or", value: `main||touch ${MARKER}` },
  { name: "background", value: `main&touch ${MARKER}` },
  { name: "redirect", value: `main>${MARKER}` },
  { name: "single quote", value: "'" },
  { name: "quote breakout", value: `'; touch ${MARKER}; '` },
  { name: "double quote", value: '"' },
  { name: "double quote breakout", value: `"; touch ${MARKER}; "` },
  { name: "backslash", value: "\\" },
  { name: "escaped quote", value: `\\'; touch ${MARKER} #` },
  { name: "IFS", value: `main\${IFS}touch\${IFS}${MARKER}` },
  { name: "variable", value: "$HOME" },
  { name: "glob star", value: "*" },
  { name: "glob question", value: "ma?n" },
  { name: "bracket glob", value: "[a-z]*" },
  { name: "tilde", value: "~" },
  { name: "tilde user", value: "~root" },
  { name: "reflog", value: "@{-1}" },
  { name: "upstream", value: "main@{u}" },
  { name: "caret", value: "main^" },
  { name: "colon", value: "main:path" },
  { name: "brace expansion", value: `{touch,${MARKER}}` },
  { name: "process substitution", value: `<(touch ${MARKER})` },
  { name: "history expansion", value: "!!" },
  { name: "comment", value: "main #x" },
  { name: "trailing .lock", value: "main.lock" },
  { name: "trailing slash", value: "main/" },
  { name: "leading dot", value: ".hidden" },
  { name: "single @", value: "@" },
  { name: "sign", value: "+3" },
  { name: "negative", value: "-3" },
  { name: "number then command", value: "3;id" },
];
