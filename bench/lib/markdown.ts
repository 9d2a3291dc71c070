import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** A GitHub-flavoured markdown table. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`;
  return [line(headers), line(headers.map(() => "---")), ...rows.map(line)].join("\n");
}

const DEFAULT_HEADER = [
  "# Benchmarks",
  "",
  "Speed and memory figures, each measured by a script in `bench/` against a named baseline in the same run",
  "(never by timed unit tests). Each section belongs to one benchmark and is rewritten when it runs again.",
  "",
].join("\n");

/**
 * Puts `body` under `heading` (a `## …` line) in a markdown file, replacing that section if it is
 * there (up to the next `## ` heading) and leaving every other section untouched. Creates the file
 * with a short header when it does not exist.
 */
export function replaceSection(file: string, heading: string, body: string): void {
  const text = existsSync(file) ? readFileSync(file, "utf8") : DEFAULT_HEADER;
  const section = `${heading}\n\n${body.trim()}\n`;
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trim() === heading.trim());
  let next: string;
  if (start === -1) {
    next = `${text.trimEnd()}\n\n${section}`;
  } else {
    let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
    if (end === -1) end = lines.length;
    const before = lines.slice(0, start).join("\n").trimEnd();
    const after = lines.slice(end).join("\n").trim();
    next = `${before}\n\n${section}${after ? `\n${after}\n` : ""}`;
  }
  writeFileSync(file, next);
}

/** A collapsed block with a benchmark's raw results, as the last lines of its section. */
export function rawJsonDetails(json: unknown): string[] {
  return ["<details><summary>raw results (JSON)</summary>", "", "```json", JSON.stringify(json, null, 2), "```", "", "</details>"];
}
