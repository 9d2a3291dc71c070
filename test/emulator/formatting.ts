import { badRequest } from "./errors.js";

/**
 * Turns text sent with `parse_mode: "HTML"` into what the user sees, and rejects markup Telegram would
 * reject with "can't parse entities". A bot that interpolates `docker logs` output into an HTML
 * message without escaping fails here exactly as it would in production — which is the point.
 * Entities themselves are not computed (tests assert on visible text).
 *
 * Without a parse mode the text is returned unchanged.
 */
export function visibleText(text: string, parseMode: string | undefined): string {
  switch (parseMode?.toLowerCase()) {
    case undefined:
    case "":
      return text;
    case "html":
      return parseHtml(text);
    default:
      // Telegram also knows MarkdownV2 and Markdown; src/ sends only HTML or plain text, so the
      // emulator does not implement them and says so instead of passing them through unchecked.
      throw badRequest(`unsupported parse_mode "${parseMode}" (the emulator implements HTML only)`);
  }
}

function entityError(reason: string): Error {
  return badRequest(`can't parse entities: ${reason}`);
}

/** UTF-8 byte offset of `index`, the unit Telegram's parse errors use. */
function byteOffset(text: string, index: number): number {
  return Buffer.byteLength(text.slice(0, index), "utf8");
}

// ---------------------------------------------------------------- HTML (bots/api#html-style)

const HTML_TAGS = new Set([
  "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
  "tg-emoji", "code", "pre", "blockquote", "tg-time",
]);

const NAMED_ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"' };

function parseHtml(text: string): string {
  let out = "";
  const open: { tag: string; index: number }[] = [];
  let i = 0;
  while (i < text.length) {
    const char = text[i]!;
    if (char === "&") {
      const entity = /^&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/i.exec(text.slice(i, i + 12));
      if (entity) {
        const decoded = decodeEntity(entity[1]!);
        if (decoded !== undefined) {
          out += decoded;
          i += entity[0].length;
          continue;
        }
      }
      out += char; // Telegram keeps a lone "&" as text
      i += 1;
      continue;
    }
    if (char !== "<") {
      out += char;
      i += 1;
      continue;
    }

    const closing = text[i + 1] === "/";
    const nameStart = i + (closing ? 2 : 1);
    const name = /^[a-z0-9-]*/i.exec(text.slice(nameStart))![0].toLowerCase();
    const end = tagEnd(text, nameStart);
    if (closing) {
      if (end === -1) throw entityError(`Unclosed end tag at byte offset ${byteOffset(text, i)}`);
      const expected = open.pop();
      if (expected === undefined) {
        throw entityError(`Unexpected end tag at byte offset ${byteOffset(text, i)}`);
      }
      if (expected.tag !== name) {
        throw entityError(
          `Unmatched end tag at byte offset ${byteOffset(text, i)}, expected "</${expected.tag}>", found "</${name}>"`,
        );
      }
    } else {
      if (!HTML_TAGS.has(name)) {
        throw entityError(`Unsupported start tag "${name}" at byte offset ${byteOffset(text, i)}`);
      }
      if (end === -1) throw entityError(`Unclosed start tag at byte offset ${byteOffset(text, i)}`);
      if (name === "span" && !/class\s*=\s*["']?tg-spoiler/i.test(text.slice(nameStart, end))) {
        throw entityError(`Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(text, i)}`);
      }
      open.push({ tag: name, index: i });
    }
    i = end + 1;
  }
  const unclosed = open.pop();
  if (unclosed) {
    throw entityError(
      `Can't find end tag corresponding to start tag "${unclosed.tag}" at byte offset ${byteOffset(text, unclosed.index)}`,
    );
  }
  return out;
}

/** Index of the ">" that closes a tag, skipping quoted attribute values; -1 if none. */
function tagEnd(text: string, from: number): number {
  let quote: string | undefined;
  for (let i = from; i < text.length; i++) {
    const char = text[i]!;
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") quote = char;
    else if (char === ">") return i;
  }
  return -1;
}

function decodeEntity(body: string): string | undefined {
  if (body[0] === "#") {
    const code = body[1] === "x" || body[1] === "X" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : undefined;
  }
  return NAMED_ENTITIES[body.toLowerCase()];
}
