import type { TlsCheckConfig } from "../config/checks.js";
import type { Clock } from "../shared/ports.js";
import type { CheckContext, PolledCheck, SignalOutcome } from "./checks.js";
import type { TlsCertificateReport, TlsProbe } from "./ports.js";

/**
 * A certificate watched from the bot, so an operator hears about it `warnDays` before it expires
 * rather than from an HTTPS check once it has. One incident per host:port ("TLS certificate of
 * shop.example"), with a signal per problem so each recovers on its own:
 * - `tls:expiry`  expires within warnDays, or has expired;
 * - `tls:chain`   the chain does not verify against the trusted roots (says why);
 * - `tls:name`    the certificate is not valid for the host (says which names it is for);
 * - `tls:connect` no handshake at all (after one retry), so the certificate cannot be read.
 */

const DAY_MS = 86_400_000;
const HANDSHAKE_TIMEOUT_MS = 15_000;
/** A refused or reset connection is tried once more before it counts: an hourly check should not alert on a blip. */
const RETRY_AFTER_MS = 5_000;

export const TLS_SIGNALS = { expiry: "tls:expiry", chain: "tls:chain", name: "tls:name", connect: "tls:connect" } as const;

/** OpenSSL's verify codes, in words an operator acts on. Expiry has its own signal. */
const CHAIN_REASONS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed certificate",
  SELF_SIGNED_CERT_IN_CHAIN: "self-signed certificate in the chain (issuer not trusted)",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "issuer not trusted or intermediate certificate missing",
  UNABLE_TO_GET_ISSUER_CERT: "issuer certificate missing",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "issuer not trusted or intermediate certificate missing",
  CERT_REVOKED: "certificate revoked",
  CERT_UNTRUSTED: "certificate not trusted",
  CERT_SIGNATURE_FAILURE: "bad certificate signature",
};
/** Verify codes that are about dates, not trust: reported by the expiry signal. */
const DATE_CODES = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"]);

/** "shop.example" on 443, "shop.example:8443" otherwise: the incident's subject and how alerts name it. */
export function tlsSubject(c: Pick<TlsCheckConfig, "host" | "port">): string {
  return c.port === 443 ? c.host : `${c.host}:${c.port}`;
}

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** What one certificate says at `now`. */
export function judgeCertificate(cert: TlsCertificateReport, c: Pick<TlsCheckConfig, "host" | "port" | "warnDays">, now: Date): SignalOutcome[] {
  const who = `certificate for ${tlsSubject(c)}`;
  const left = cert.validTo.getTime() - now.getTime();
  let expiry: SignalOutcome = { signal: TLS_SIGNALS.expiry, status: "ok" };
  if (left <= 0) expiry = { signal: TLS_SIGNALS.expiry, status: "failed", error: `${who} expired on ${day(cert.validTo)}` };
  else if (cert.validFrom.getTime() > now.getTime()) {
    expiry = { signal: TLS_SIGNALS.expiry, status: "failed", error: `${who} is not valid before ${day(cert.validFrom)}` };
  } else if (left < c.warnDays * DAY_MS) {
    // Whole days, rounded up: a certificate issued for 3 days "expires in 3 days" until the last one.
    const days = Math.ceil(left / DAY_MS);
    expiry = { signal: TLS_SIGNALS.expiry, status: "failed", error: `${who} expires in ${days} day${days === 1 ? "" : "s"} (${day(cert.validTo)})` };
  }
  const chainCode = cert.chainError && !DATE_CODES.has(cert.chainError) ? cert.chainError : null;
  const chain: SignalOutcome = chainCode
    ? { signal: TLS_SIGNALS.chain, status: "failed", error: `${who}: the chain does not verify: ${CHAIN_REASONS[chainCode] ?? chainCode} (${chainCode})` }
    : { signal: TLS_SIGNALS.chain, status: "ok" };
  const shown = cert.names.slice(0, 5).join(", ") + (cert.names.length > 5 ? ", …" : "");
  const name: SignalOutcome = cert.nameError
    ? { signal: TLS_SIGNALS.name, status: "failed", error: `${who}: the name does not verify: the certificate is for ${shown || "no name"}` }
    : { signal: TLS_SIGNALS.name, status: "ok" };
  return [expiry, chain, name, { signal: TLS_SIGNALS.connect, status: "ok" }];
}

/** The TLS check of one host:port. */
export function tlsCheck(ctx: CheckContext, probe: TlsProbe, c: TlsCheckConfig, remindEveryMs: number | null, intervalMs: number = c.intervalSeconds * 1000): PolledCheck {
  return {
    key: { target: ctx.target, source: "tls", subject: tlsSubject(c) },
    intervalMs,
    policy: { failuresBeforeAlert: 1, successesBeforeRecovery: 1, remindEveryMs },
    async run(signal) {
      let result = await probe.probe(c.host, c.port, HANDSHAKE_TIMEOUT_MS);
      if (result.status === "failed") {
        if (!(await sleepUnlessStopped(ctx.clock, RETRY_AFTER_MS, signal))) return [];
        result = await probe.probe(c.host, c.port, HANDSHAKE_TIMEOUT_MS);
      }
      if (result.status === "failed") {
        return [{ signal: TLS_SIGNALS.connect, status: "failed", error: `certificate for ${tlsSubject(c)} cannot be read: ${result.error}` }];
      }
      return judgeCertificate(result.certificate, c, ctx.clock.now());
    },
  };
}

/** False when monitoring stopped during the wait (nothing is reported then). */
async function sleepUnlessStopped(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  try {
    await clock.sleep(ms, signal);
    return true;
  } catch {
    return false;
  }
}
