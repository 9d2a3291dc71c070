import type { Update } from "grammy/types";
import { describe, expect, it } from "vitest";
import { visibleText } from "../emulator/formatting.js";
import { RecordStream } from "../emulator/record-stream.js";
import { headerParams, isUploadedFile, parseMultipart } from "../emulator/request-body.js";
import { UpdateQueue } from "../emulator/update-queue.js";

describe("visibleText", () => {
  it("strips HTML markup and decodes entities", () => {
    expect(visibleText('<b>api</b> &lt;down&gt; &amp; <a href="https://x.y">logs</a> &#x41; & co', "HTML")).toBe(
      "api <down> & logs A & co",
    );
    expect(visibleText('<a href="https://x.y/?q=a>b">link</a>', "HTML")).toBe("link");
  });

  it.each([
    ["exit <1>", /Unsupported start tag "1" at byte offset 5/],
    ["<b>x</i>", /Unmatched end tag at byte offset 4, expected "<\/b>", found "<\/i>"/],
    ["é <b>x", /Can't find end tag corresponding to start tag "b" at byte offset 3/],
    ["<span>x</span>", /tg-spoiler/],
  ])("rejects HTML %j", (text, reason) => {
    expect(() => visibleText(text, "HTML")).toThrow(reason);
  });

  it("refuses parse modes other than HTML: src/ sends none, so the emulator does not implement them", () => {
    expect(() => visibleText("*bold*", "MarkdownV2")).toThrow(/unsupported parse_mode "MarkdownV2"/);
    expect(() => visibleText("*bold*", "Markdown")).toThrow(/unsupported parse_mode "Markdown"/);
  });

  it("leaves text without parse_mode alone", () => {
    expect(visibleText("<b>not html</b>", undefined)).toBe("<b>not html</b>");
  });
});

describe("multipart parsing", () => {
  it("reads grammY's unspaced headers and unquoted file names", () => {
    const body = Buffer.from(
      "--XYZ\r\ncontent-disposition:form-data;name=\"chat_id\"\r\n\r\n42\r\n" +
        "--XYZ\r\ncontent-disposition:form-data;name=\"f1\";filename=out file.txt\r\ncontent-type:application/octet-stream\r\n\r\n" +
        "a\r\nb\r\n--XYZ--\r\n",
    );
    const fields = parseMultipart(body, "XYZ");
    expect(fields.chat_id).toBe("42");
    expect(isUploadedFile(fields.f1)).toBe(true);
    expect(fields.f1).toMatchObject({ filename: "out file.txt", contentType: "application/octet-stream" });
    expect((fields.f1 as { content: Buffer }).content.toString()).toBe("a\r\nb");
  });

  it("parses quoted, unquoted and RFC 5987 header parameters", () => {
    const params = headerParams(`form-data; name="a\\"b"; filename=x.txt; filename*=utf-8''r%C3%A9sum%C3%A9.txt`);
    expect(params.get("name")).toBe('a"b');
    expect(params.get("filename")).toBe("x.txt");
    expect(params.get("filename*")).toBe("résumé.txt");
    expect(headerParams("multipart/form-data; boundary=----abc").get("boundary")).toBe("----abc");
  });
});

describe("UpdateQueue", () => {
  const update = (id: number): Update => ({ update_id: id });
  const never = new AbortController().signal;

  it("serves a redelivery first so grammY's next offset does not rewind over newer updates", async () => {
    const queue = new UpdateQueue(10, () => {});
    queue.enqueue(update(10));
    queue.enqueue(update(11));
    let result = await queue.poll({ offset: undefined, limit: 100, timeoutMs: 0, signal: never });
    expect(result).toEqual({ status: "updates", updates: [update(10), update(11)] });

    queue.enqueue(update(12));
    queue.redeliver(update(10));
    result = await queue.poll({ offset: 12, limit: 100, timeoutMs: 0, signal: never });
    expect(result).toEqual({ status: "updates", updates: [update(10), update(12)] });
    result = await queue.poll({ offset: 13, limit: 100, timeoutMs: 0, signal: never });
    expect(result).toEqual({ status: "updates", updates: [] });
    expect(queue.pending).toBe(0);
  });

  it("refuses an update_id that is not newer, and drops everything on request", () => {
    const queue = new UpdateQueue(5, () => {});
    queue.enqueue(update(queue.allocateId()));
    expect(() => queue.enqueue(update(5))).toThrow(/redeliver/);
    queue.enqueue(update(9));
    expect(queue.allocateId()).toBe(10);
    queue.dropAll();
    expect(queue.pending).toBe(0);
  });

  it("keeps only the last |offset| updates for a negative offset", async () => {
    const queue = new UpdateQueue(1, () => {});
    for (let id = 1; id <= 5; id++) queue.enqueue(update(id));
    const result = await queue.poll({ offset: -2, limit: 100, timeoutMs: 0, signal: never });
    expect(result).toEqual({ status: "updates", updates: [update(4), update(5)] });
  });

  it("answers a long poll with nothing when its timeout passes", async () => {
    const queue = new UpdateQueue(1, () => {});
    const started = Date.now();
    const result = await queue.poll({ offset: undefined, limit: 100, timeoutMs: 50, signal: never });
    expect(result).toEqual({ status: "updates", updates: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(queue.polling).toBe(false);
  });

  it("ends a waiting poll when its client goes away", async () => {
    const queue = new UpdateQueue(1, () => {});
    const client = new AbortController();
    const waiting = queue.poll({ offset: undefined, limit: 100, timeoutMs: 60_000, signal: client.signal });
    expect(queue.polling).toBe(true);
    client.abort();
    expect(await waiting).toEqual({ status: "updates", updates: [] });
    expect(queue.polling).toBe(false);
  });
});

describe("RecordStream", () => {
  it("hands each record out once, oldest match first, before or after the call", async () => {
    const stream = new RecordStream<number>();
    stream.push(1);
    stream.push(2);
    expect(await stream.take((n) => n % 2 === 0, 100, () => new Error("timeout"))).toBe(2);
    const odd = stream.take((n) => n % 2 === 1, 100, () => new Error("timeout"));
    expect(await odd).toBe(1);
    const next = stream.take(() => true, 100, () => new Error("timeout"));
    stream.push(3);
    expect(await next).toBe(3);
    await expect(stream.take(() => true, 10, () => new Error("nothing left"))).rejects.toThrow("nothing left");
  });

  it("surfaces a predicate that throws instead of treating it as no match", async () => {
    const stream = new RecordStream<{ text?: string }>();
    stream.push({});
    await expect(stream.take((m) => m.text!.includes("x"), 100, () => new Error("timeout"))).rejects.toThrow(TypeError);
  });
});
