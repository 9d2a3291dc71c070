/**
 * The HTTP probe run on a target (the app often listens on 127.0.0.1 only): one builder for the
 * deploy health gate and the HTTP monitors. wget, because busybox has it where curl is missing;
 * `-S` prints every status line to stderr (redirects print several; the last one counts). The URL
 * and headers come from opsgram.yml (the URL validated as an http(s) URL, header names as HTTP
 * tokens, values one line), never from chat. Header values may be secrets (`${VAR}`): they travel
 * as one quoted argument and are registered for redaction; nothing here logs them.
 */

export interface HttpProbeOptions {
  /** Sent with the request (`--header=Name: value`). */
  headers?: Readonly<Record<string, string>>;
  /** Print the body to stdout (`-O -`) so it can be judged; otherwise it is thrown away. */
  body?: boolean;
}

export function httpProbeArgv(url: string, timeoutSeconds: number, options: HttpProbeOptions = {}): string[] {
  const headers = Object.entries(options.headers ?? {}).map(([name, value]) => {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/.test(name) || /[\r\n\0]/.test(value)) throw new TypeError("not a valid HTTP header");
    return `--header=${name}: ${value}`;
  });
  return ["wget", "-S", "-O", options.body ? "-" : "/dev/null", "--tries=1", "-T", String(Math.max(1, Math.ceil(timeoutSeconds))), ...headers, url];
}

const HTTP_STATUS = /HTTP\/\d(?:\.\d)?\s+(\d{3})/g;

/** The last `HTTP/1.1 200`-style status in the probe's output, or null when there was none. */
export function lastHttpStatus(text: string): number | null {
  const last = [...text.matchAll(HTTP_STATUS)].at(-1);
  return last ? Number(last[1]) : null;
}

/** What a check expects of the response (health.http and deploy.healthcheck share it). */
export interface HttpExpectation {
  expectStatus: number;
  expectBodyContains?: string | undefined;
  expectBodyMatches?: string | undefined;
}

/** Does the check look at the body at all? */
export function wantsBody(check: HttpExpectation): boolean {
  return check.expectBodyContains !== undefined || check.expectBodyMatches !== undefined;
}

/**
 * Judges one response: the status, then the body when the check says so. The detail names what
 * failed without quoting the body (it may carry data the chat should not see).
 */
export function judgeHttpResponse(check: HttpExpectation, status: number, body: string): { healthy: boolean; detail: string } {
  if (status !== check.expectStatus) return { healthy: false, detail: `HTTP ${status}` };
  if (check.expectBodyContains !== undefined && !body.includes(check.expectBodyContains)) {
    return { healthy: false, detail: `HTTP ${status}, body lacks ${JSON.stringify(clip(check.expectBodyContains))}` };
  }
  if (check.expectBodyMatches !== undefined && !new RegExp(check.expectBodyMatches).test(body)) {
    return { healthy: false, detail: `HTTP ${status}, body does not match /${clip(check.expectBodyMatches)}/` };
  }
  return { healthy: true, detail: `HTTP ${status}` };
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
