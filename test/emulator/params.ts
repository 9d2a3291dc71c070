import { badRequest } from "./errors.js";
import { isUploadedFile, type RawParams, type UploadedFile } from "./request-body.js";

/**
 * Typed access to one call's parameters. The same parameter arrives as `5` in a JSON body and as
 * `"5"` in a multipart one (grammY switches to multipart as soon as a file is attached), and
 * objects such as `reply_markup` arrive JSON-encoded there — the accessors accept both, like
 * Telegram does.
 */
export class Params {
  constructor(readonly raw: RawParams) {}

  has(name: string): boolean {
    return this.raw[name] !== undefined && this.raw[name] !== null;
  }

  string(name: string): string | undefined {
    const value = this.raw[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value === "string") return value;
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    throw badRequest(`field "${name}" must be a string`);
  }

  integer(name: string): number | undefined {
    const value = this.raw[name];
    if (value === undefined || value === null || value === "") return undefined;
    const number = typeof value === "number" ? value : typeof value === "string" ? Number(value) : NaN;
    if (!Number.isSafeInteger(number)) throw badRequest(`field "${name}" must be an integer`);
    return number;
  }

  boolean(name: string): boolean | undefined {
    const value = this.raw[name];
    if (value === undefined || value === null) return undefined;
    if (value === true || value === "true" || value === "1" || value === 1) return true;
    if (value === false || value === "false" || value === "0" || value === 0) return false;
    throw badRequest(`field "${name}" must be a Boolean`);
  }

  /** An object parameter, decoded from its JSON string form when needed. */
  json(name: string): unknown {
    const value = this.raw[name];
    if (typeof value !== "string") return value ?? undefined;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      throw badRequest(`can't parse ${name} JSON object`);
    }
  }

  /**
   * A file parameter: an upload (either sent as the part itself or referenced as `attach://id`,
   * which is what grammY does) or a string (file_id or URL).
   */
  file(name: string): UploadedFile | string | undefined {
    const value = this.raw[name];
    if (isUploadedFile(value)) return value;
    const reference = this.string(name);
    if (reference?.startsWith("attach://")) {
      const attached = this.raw[reference.slice("attach://".length)];
      if (!isUploadedFile(attached)) throw badRequest(`file "${reference}" not found in the request`);
      return attached;
    }
    return reference;
  }

  /** `chat_id`: an integer (or its string form); `@username` chats do not exist here. */
  chatId(): number {
    const value = this.raw.chat_id;
    if (value === undefined || value === null || value === "") throw badRequest("chat_id is empty");
    const id = typeof value === "number" ? value : Number(value);
    if (!Number.isSafeInteger(id) || id === 0) throw badRequest("chat not found");
    return id;
  }

  /** The parameters with uploads replaced by a short description, for `calls` and error output. */
  summary(): RawParams {
    return Object.fromEntries(
      Object.entries(this.raw).map(([key, value]) =>
        isUploadedFile(value) ? [key, `<file ${value.filename}, ${value.content.length} bytes>`] : [key, value],
      ),
    );
  }
}
