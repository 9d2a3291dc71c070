/** Recording fakes of the ports operations talk to: audit log, chat, shell, Docker. */
import type {
  AuditEvent,
  AuditEventInput,
  AuditLog,
  ContainerSummary,
  DockerApi,
  ExecOptions,
  ExecResult,
  MessageOptions,
  Notifier,
  RemoteShell,
  SentMessage,
} from "../../src/shared/ports.js";

export class MemoryAudit implements AuditLog {
  events: AuditEvent[] = [];
  async append(e: AuditEventInput): Promise<AuditEvent> {
    const event = { ...e, id: this.events.length + 1, createdAt: new Date(), prevHash: "", hash: String(this.events.length + 1) };
    this.events.push(event);
    return event;
  }
  async recent(limit: number) {
    return this.events.slice(-limit).reverse();
  }
  outcomes(operationId: string | null = null): string[] {
    return this.events.filter((e) => operationId === null || e.operationId === operationId).map((e) => e.outcome);
  }
}

export interface RecordedMessage {
  chatId: number;
  messageId: number;
  texts: string[];
  options: (MessageOptions | undefined)[];
}

/** Records every message and edit, like a chat would show them. */
export class RecordingNotifier implements Notifier {
  messages: RecordedMessage[] = [];
  documents: { chatId: number; filename: string; content: string; caption?: string | undefined }[] = [];
  edits = 0;
  failSends = false;
  async send(chatId: number, text: string, options?: MessageOptions): Promise<SentMessage> {
    if (this.failSends) throw new Error("chat down");
    const m = { chatId, messageId: this.messages.length + 1, texts: [text], options: [options] };
    this.messages.push(m);
    return { chatId, messageId: m.messageId };
  }
  async edit(message: SentMessage, text: string, options?: MessageOptions): Promise<void> {
    const m = this.messages.find((x) => x.messageId === message.messageId && x.chatId === message.chatId);
    if (!m) throw new Error("message not found");
    this.edits++;
    m.texts.push(text);
    m.options.push(options);
  }
  async sendDocument(chatId: number, filename: string, content: string | Buffer, caption?: string): Promise<SentMessage> {
    this.documents.push({ chatId, filename, content: content.toString(), caption });
    return { chatId, messageId: 10_000 + this.documents.length };
  }
  last(messageId: number): string {
    return this.messages.find((m) => m.messageId === messageId)?.texts.at(-1) ?? "";
  }
}

export type ShellScript = (argv: readonly string[] | string, options: ExecOptions) => Partial<ExecResult> | Promise<Partial<ExecResult>>;

/** A shell that answers from a script and records every command. */
export class FakeShell implements RemoteShell {
  calls: { argv: readonly string[] | null; line: string | null; cwd: string | undefined }[] = [];
  constructor(private readonly script: ShellScript = () => ({})) {}
  async exec(argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
    this.calls.push({ argv, line: null, cwd: options.cwd });
    return result(await this.script(argv, options));
  }
  async execTrusted(line: string, options: ExecOptions): Promise<ExecResult> {
    this.calls.push({ argv: null, line, cwd: options.cwd });
    return result(await this.script(line, options));
  }
  async close() {}
  /** Commands as one line each, for asserting order. */
  get lines(): string[] {
    return this.calls.map((c) => (c.argv ? c.argv.join(" ") : `TRUSTED ${c.line}`));
  }
}

function result(partial: Partial<ExecResult>): ExecResult {
  return { code: 0, stdout: "", stderr: "", timedOut: false, truncated: false, durationMs: 1, ...partial };
}

export class FakeDocker implements DockerApi {
  containers: ContainerSummary[] = [];
  listCalls = 0;
  async listContainers(): Promise<ContainerSummary[]> {
    this.listCalls++;
    return this.containers.map((c) => ({ ...c }));
  }
  async inspect(id: string) {
    const c = this.containers.find((x) => x.id === id);
    if (!c) throw new Error("no such container");
    return c;
  }
  events() {
    return { stop() {} };
  }
  async logs(id: string, tail: number) {
    return `logs of ${id} (${tail})\n`;
  }
  async close() {}
}

export function container(service: string, number: number, patch: Partial<ContainerSummary> = {}): ContainerSummary {
  return {
    id: `${service}-${number}`,
    name: `app_${service}_${number}`,
    service,
    number,
    state: "running",
    health: "none",
    image: "app",
    startedAt: new Date(0),
    exitCode: null,
    oomKilled: false,
    ...patch,
  };
}

