import type { IncomingMessage } from "node:http";
import { BotApiError, badRequest } from "./errors.js";

/** A file part of a multipart upload (what `new InputFile(...)` became on the wire). */
export interface UploadedFile {
  filename: string;
  contentType: string;
  content: Buffer;
}

/**
 * The parameters of one Bot API call, before interpretation. JSON bodies keep their types;
 * query strings, urlencoded and multipart bodies carry strings (objects JSON-encoded, as grammY
 * sends them) and files. `Params` (params.ts) turns these into typed values.
 */
export type RawParams = Record<string, unknown>;

/** Telegram refuses bodies above 50 MB (bots/api#senddocument); we stop reading there too. */
export const MAX_BODY_BYTES = 50 * 1024 * 1024;

/**
 * Reads the parameters of a Bot API request: query string, then the body (JSON, urlencoded or
 * multipart) on top. Throws `BotApiError` 413 for oversized bodies and 400 for malformed ones.
 */
export async function readParams(req: IncomingMessage, url: URL): Promise<RawParams> {
  const params: RawParams = Object.fromEntries(url.searchParams);
  const body = await readBody(req, MAX_BODY_BYTES);
  if (body.length === 0) return params;

  const contentType = req.headers["content-type"] ?? "";
  const mediaType = contentType.split(";")[0]!.trim().toLowerCase();
  if (mediaType === "application/json") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      throw badRequest("invalid JSON in request body");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw badRequest("request body must be a JSON object");
    }
    return { ...params, ...(parsed as RawParams) };
  }
  if (mediaType === "application/x-www-form-urlencoded") {
    return { ...params, ...Object.fromEntries(new URLSearchParams(body.toString("utf8"))) };
  }
  if (mediaType === "multipart/form-data") {
    const boundary = headerParams(contentType).get("boundary");
    if (!boundary) throw badRequest("multipart body without boundary");
    return { ...params, ...parseMultipart(body, boundary) };
  }
  throw badRequest(`unsupported content type ${JSON.stringify(contentType)}`);
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBytes) tooLarge = true; // keep draining so the client sees our answer
    else chunks.push(buffer);
  }
  if (tooLarge) throw new BotApiError(413, "Request Entity Too Large");
  return Buffer.concat(chunks);
}

/**
 * A deliberately lenient multipart/form-data parser. Node 20's `Request.formData()` (undici)
 * rejects what grammY sends — `content-disposition:form-data;name="x"` without spaces and an
 * unquoted `filename=out.txt` (cf. nodejs/undici#4660) — while Telegram accepts it, so the
 * emulator must too. File parts become `UploadedFile`s under their part name; plain parts are
 * UTF-8 strings.
 */
export function parseMultipart(body: Buffer, boundary: string): RawParams {
  const fields: RawParams = {};
  const delimiter = Buffer.from(`--${boundary}`);
  const nextDelimiter = Buffer.from(`\r\n--${boundary}`);
  let position = body.indexOf(delimiter);
  if (position === -1) throw badRequest("multipart body without its boundary");
  position += delimiter.length;

  for (;;) {
    if (body[position] === 0x2d && body[position + 1] === 0x2d) return fields; // "--": the end
    position = skipLineBreak(body, position);
    const headerEnd = body.indexOf("\r\n\r\n", position);
    if (headerEnd === -1) throw badRequest("malformed multipart part headers");
    const headers = parsePartHeaders(body.subarray(position, headerEnd).toString("utf8"));
    const contentStart = headerEnd + 4;
    const contentEnd = body.indexOf(nextDelimiter, contentStart);
    if (contentEnd === -1) throw badRequest("unterminated multipart part");

    const disposition = headerParams(headers.get("content-disposition") ?? "");
    const name = disposition.get("name");
    if (name === undefined) throw badRequest("multipart part without a name");
    const content = body.subarray(contentStart, contentEnd);
    const filename = disposition.get("filename*") ?? disposition.get("filename");
    fields[name] =
      filename === undefined
        ? content.toString("utf8")
        : ({
            filename,
            contentType: headers.get("content-type") ?? "application/octet-stream",
            content: Buffer.from(content), // copy: do not pin the whole request body
          } satisfies UploadedFile);
    position = contentEnd + nextDelimiter.length;
  }
}

function skipLineBreak(body: Buffer, position: number): number {
  if (body[position] === 0x0d && body[position + 1] === 0x0a) return position + 2;
  if (body[position] === 0x0a) return position + 1;
  return position;
}

function parsePartHeaders(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of block.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

/**
 * Parameters of a header like `form-data; name="a"; filename=b.txt` or
 * `multipart/form-data; boundary=xyz`, quoted or not, with or without spaces.
 * `filename*=utf-8''a%20b.txt` (RFC 5987) is decoded.
 */
export function headerParams(value: string): Map<string, string> {
  const result = new Map<string, string>();
  const pattern = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (const match of value.matchAll(pattern)) {
    const key = match[1]!.toLowerCase();
    let parameter = match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : match[3]!.trim();
    if (key.endsWith("*")) {
      const extended = /^[^']*'[^']*'(.*)$/.exec(parameter);
      if (extended) parameter = decodeURIComponent(extended[1]!);
    }
    result.set(key, parameter);
  }
  return result;
}

/** True for an `UploadedFile` produced by `parseMultipart`. */
export function isUploadedFile(value: unknown): value is UploadedFile {
  return (
    typeof value === "object" &&
    value !== null &&
    Buffer.isBuffer((value as UploadedFile).content) &&
    typeof (value as UploadedFile).filename === "string"
  );
}
