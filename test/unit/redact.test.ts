import { afterEach, describe, expect, it } from "vitest";
import { clearRegisteredSecrets, redact, registerSecret } from "../../src/shared/redact.js";

afterEach(() => clearRegisteredSecrets());

describe("redact", () => {
  it("masks NAME=value when the name says secret", () => {
    expect(redact("DB_PASSWORD=hunter2")).toBe("DB_PASSWORD=***");
    expect(redact("web-1  | STRIPE_SECRET=sk_live_abc started")).toBe("web-1  | STRIPE_SECRET=*** started");
    expect(redact("export API_KEY='a b c'; GITHUB_TOKEN=ghp_x1 REDIS_PASSWD=p")).toBe("export API_KEY=***; GITHUB_TOKEN=*** REDIS_PASSWD=***");
    expect(redact("aws_secret_access_key=AKIAxyz")).toBe("aws_secret_access_key=***");
  });

  it("masks password= in connection strings and URL queries", () => {
    expect(redact("host=db port=5432 user=app password=s3cret dbname=app")).toBe("host=db port=5432 user=app password=*** dbname=app");
    expect(redact("postgres://db/app?user=app&password=s3cret&sslmode=require")).toBe("postgres://db/app?user=app&password=***&sslmode=require");
    expect(redact("postgres://app:s3cret@db:5432/app")).toBe("postgres://app:[REDACTED]@db:5432/app");
  });

  it("masks bearer tokens", () => {
    expect(redact("Authorization: Bearer eyJhbGciOi.abc.def")).toBe("Authorization: Bearer ***");
    expect(redact('curl -H "authorization: token ghp_abcdef123"')).toBe('curl -H "authorization: token ***"');
    expect(redact("sent Bearer abcdefgh12345678 upstream")).toBe("sent Bearer *** upstream");
  });

  it("masks values registered at runtime, longest first, and ignores very short ones", () => {
    registerSecret("s3cr3t-value");
    registerSecret("s3cr3t-value-longer");
    registerSecret("ab");
    expect(redact("a s3cr3t-value-longer b s3cr3t-value c ab")).toBe("a *** b *** c ab");
    registerSecret("a.b*c");
    expect(redact("x a.b*c y axbbc")).toBe("x *** y axbbc");
  });

  it("leaves ordinary output alone", () => {
    const text = "web-1 | GET /health 200 in 3 ms\nkey points: none\nmonkey business\n--scale worker=3";
    expect(redact(text)).toBe(text);
  });
});
