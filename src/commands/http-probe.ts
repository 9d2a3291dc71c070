/**
 * The HTTP probe run on a target (the app often listens on 127.0.0.1 only): one builder for the
 * deploy health gate and the HTTP monitors. wget, because busybox has it where curl is missing;
 * `-S` prints every status line to stderr (redirects print several; the last one counts). The URL
 * comes from opsgram.yml (validated as an http(s) URL), never from chat.
 */
export function httpProbeArgv(url: string, timeoutSeconds: number): string[] {
  return ["wget", "-S", "-O", "/dev/null", "--tries=1", "-T", String(Math.max(1, Math.ceil(timeoutSeconds))), url];
}

const HTTP_STATUS = /HTTP\/\d(?:\.\d)?\s+(\d{3})/g;

/** The last `HTTP/1.1 200`-style status in the probe's output, or null when there was none. */
export function lastHttpStatus(text: string): number | null {
  const last = [...text.matchAll(HTTP_STATUS)].at(-1);
  return last ? Number(last[1]) : null;
}
