import { isIP } from "node:net";
import { checkServerIdentity, connect, rootCertificates, type PeerCertificate, type TLSSocket } from "node:tls";
import type { TlsCertificateReport, TlsProbe, TlsProbeResult } from "../../health/ports.js";

export interface NodeTlsProbeOptions {
  /**
   * Extra CA certificates (PEM) trusted besides Node's bundled roots, e.g. a company CA. Tests pass
   * their own CA here. Node's NODE_EXTRA_CA_CERTS works as well.
   */
  extraCa?: readonly string[];
}

/**
 * The TLS probe over node:tls. The handshake never fails on trust (rejectUnauthorized: false) so
 * that the certificate can always be read and every problem named: the chain is judged by
 * OpenSSL (authorizationError) and the name by tls.checkServerIdentity, separately, since Node's
 * own check would report only the first of the two. Nothing is sent over the connection.
 */
export class NodeTlsProbe implements TlsProbe {
  private readonly ca: string[] | undefined;

  constructor(options: NodeTlsProbeOptions = {}) {
    this.ca = options.extraCa && options.extraCa.length > 0 ? [...rootCertificates, ...options.extraCa] : undefined;
  }

  probe(host: string, port: number, timeoutMs: number): Promise<TlsProbeResult> {
    return new Promise((resolve) => {
      let settled = false;
      const done = (result: TlsProbeResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(result);
      };
      const socket: TLSSocket = connect({
        host,
        port,
        // SNI must name the host (never an IP address: RFC 6066 forbids it, Node warns).
        ...(isIP(host) ? {} : { servername: host }),
        rejectUnauthorized: false,
        // The name is checked below, on its own; here it would hide a chain problem or the other way round.
        checkServerIdentity: () => undefined,
        ...(this.ca ? { ca: this.ca } : {}),
      });
      const timer = setTimeout(() => done({ status: "failed", error: `no TLS handshake within ${Math.round(timeoutMs / 1000)} s` }), timeoutMs);
      socket.once("secureConnect", () => {
        const cert = socket.getPeerCertificate(false);
        if (!cert || Object.keys(cert).length === 0) return done({ status: "failed", error: "the server sent no certificate" });
        done({ status: "ok", certificate: report(host, cert, socket.authorized ? null : String(socket.authorizationError ?? "unknown")) });
      });
      socket.once("error", (err: NodeJS.ErrnoException) => done({ status: "failed", error: err.code ?? err.message }));
    });
  }
}

function report(host: string, cert: PeerCertificate, chainError: string | null): TlsCertificateReport {
  const alt = (cert.subjectaltname ?? "")
    .split(",")
    .map((s) => s.trim().replace(/^(DNS|IP Address):/, ""))
    .filter(Boolean);
  const cn = typeof cert.subject?.CN === "string" ? [cert.subject.CN] : [];
  const names = [...new Set([...alt, ...cn])];
  return {
    validFrom: new Date(cert.valid_from),
    validTo: new Date(cert.valid_to),
    names,
    chainError,
    nameError: checkServerIdentity(host, cert)?.message ?? null,
  };
}
