// The RabbitMQ transport, with amqplib, in the layout of bus/amqpbus (and
// of ari-proxy v5's RabbitMQ mode; docs/protocol.md, "RabbitMQ"): four
// durable exchanges, routing keys that are the NATS subjects ("#" for
// ">"), a queue per subscription, shared queues for queue groups, and
// requests answered by direct reply-to on a channel that serves one
// outstanding request at a time.

import { randomBytes } from "node:crypto";
import { connect, type Channel, type ChannelModel, type ConsumeMessage, type Message, type Options } from "amqplib";
import { ArgumentError, ClosedError, UnavailableError } from "./errors.js";
import type { BusMsg, BusRequest, BusSub, Transport } from "./transport.js";

/** The exchanges of the RabbitMQ layout (fixed names, whatever the subject prefix). */
export const AMQP_EXCHANGES = Object.freeze({
  event: "ari.event",
  request: "ari.request",
  ping: "ari.ping",
  announce: "ari.announce",
});

const exchangeKinds: readonly (readonly [string, "topic" | "fanout"])[] = [
  [AMQP_EXCHANGES.event, "topic"],
  [AMQP_EXCHANGES.request, "topic"],
  [AMQP_EXCHANGES.ping, "fanout"],
  [AMQP_EXCHANGES.announce, "fanout"],
];

/** Begins the name of every queue a subscription declares (then a random suffix). */
export const SUBSCRIPTION_QUEUE_PREFIX = "ari-sub.";
/** How long a subscription's queue outlives its consumer (x-expires), as bus/amqpbus. */
export const QUEUE_EXPIRY = 60_000;
const PREFETCH = 512;
const DIRECT_REPLY_TO = "amq.rabbitmq.reply-to";
// A reply channel is reused once this long passed after its request with
// no late answer (bus/amqpbus's quarantine); at most MAX_IDLE wait.
const REPLY_QUARANTINE = 200;
const MAX_IDLE = 256;
const MAX_KEY = 255;

function classExchange(tok: string): string | undefined {
  switch (tok) {
    case "event":
    case "dialogevent":
      return AMQP_EXCHANGES.event;
    case "get":
    case "data":
    case "command":
    case "create":
      return AMQP_EXCHANGES.request;
    case "ping":
      return AMQP_EXCHANGES.ping;
    case "announce":
      return AMQP_EXCHANGES.announce;
  }
  return undefined;
}

/** The exchange a subject's messages go through: the first token naming a class decides. */
export function exchangeOf(subject: string): string {
  for (const tok of subject.split(".")) {
    const ex = classExchange(tok);
    if (ex) return ex;
  }
  return AMQP_EXCHANGES.event;
}

/** Where a subscription to pattern binds: its class's exchange, or all of them after a leading wildcard. */
export function exchangesOf(pattern: string): string[] {
  for (const tok of pattern.split(".")) {
    const ex = classExchange(tok);
    if (ex) return [ex];
    if (tok === "*" || tok === ">") return exchangeKinds.map(([n]) => n);
  }
  return [AMQP_EXCHANGES.event];
}

const isFanout = (ex: string): boolean => ex === AMQP_EXCHANGES.ping || ex === AMQP_EXCHANGES.announce;

/** A NATS pattern as an AMQP topic binding key: "#" for ">". */
export function bindingKey(pattern: string): string {
  if (pattern === ">") return "#";
  if (pattern.endsWith(".>")) return pattern.slice(0, -1) + "#";
  return pattern;
}

/** Whether subject matches the NATS pattern ("*" one token, ">" one or more at the end). */
export function matchSubject(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

function checkSubject(subject: string, pattern: boolean): void {
  const bad = (why: string) => new ArgumentError(`bus subject ${JSON.stringify(subject)}: ${why}`);
  if (subject === "" || Buffer.byteLength(subject) > MAX_KEY) throw bad("empty or longer than 255 bytes");
  const toks = subject.split(".");
  toks.forEach((tok, i) => {
    if (tok === "") throw bad("empty token");
    if (/\s/.test(tok)) throw bad("white space");
    if (!pattern && (tok === "*" || tok === ">")) throw bad("wildcard in a published subject");
    if (tok === ">" && i !== toks.length - 1) throw bad('">" must be the last token');
    if (tok !== "*" && tok !== ">" && /[*>#]/.test(tok)) throw bad('"*", ">" or "#" inside a token');
  });
}

// The arguments of the queues only ours declare, typed as amqp091-go
// sends them (a long-long and an int), so that a Go client and this one
// declaring the same shared queue agree.
const queueArgs = Object.freeze({ "x-expires": { "!": "int64", value: QUEUE_EXPIRY }, "x-queue-version": { "!": "int32", value: 2 } });

/** Options of the RabbitMQ transport: amqplib's socket options (TLS ca, cert, key...). */
export type AmqpOptions = Readonly<Record<string, unknown>>;

// A channel consuming direct reply-to, serving one request at a time.
class ReplyChannel {
  current?: { corr: string; got: number; onReply(m: BusMsg): void; onLost(err: Error): void };
  tainted = false; // an answer without correlation id, or a late one, came
  closed = false;
  readyAt = 0;

  private constructor(readonly ch: Channel) {}

  static async open(conn: ChannelModel): Promise<ReplyChannel> {
    const ch = await conn.createChannel();
    const rc = new ReplyChannel(ch);
    ch.on("error", () => {}); // the close that follows says it
    ch.on("close", () => {
      rc.closed = true;
      rc.current?.onLost(new UnavailableError("bus: the request's channel closed before its answers came"));
    });
    ch.on("return", (m: Message) => {
      const c = rc.current;
      if (c && m.properties.correlationId === c.corr && c.got === 0) c.onReply({ subject: m.fields.routingKey, data: m.content, noResponders: true });
    });
    await ch.consume(DIRECT_REPLY_TO, (m) => m && rc.deliver(m), { noAck: true });
    return rc;
  }

  private deliver(m: ConsumeMessage): void {
    const c = this.current;
    const corr = (m.properties.correlationId as string | undefined) ?? "";
    if (!c) {
      this.tainted = true; // late: never reuse
      return;
    }
    if (corr === "") this.tainted = true; // a v5 server's: only the channel tells whose it is
    else if (corr !== c.corr) return; // late, to an earlier request on this channel
    c.got++;
    c.onReply({ subject: m.fields.routingKey, data: m.content, noResponders: false });
  }
}

/** RabbitMQ: one connection, a channel for publishing, one per subscription and per outstanding request. */
export class AmqpTransport implements Transport {
  private readonly idle: ReplyChannel[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private readonly corrPrefix = randomBytes(6).toString("hex") + ".";
  private corrSeq = 0;
  private lost?: Error;
  private closing = false;

  private constructor(
    private readonly conn: ChannelModel,
    private readonly pub: Channel,
    private readonly where: string,
  ) {
    conn.on("error", () => {}); // the close that follows says it
    conn.on("close", (err?: Error) => {
      if (!this.closing) this.lost = new UnavailableError(`bus connection to ${where} lost${err ? ": " + err.message : ""}`, { cause: err });
    });
    pub.on("error", () => {});
  }

  /** Connects to the broker at url and declares the exchanges. */
  static async connect(url: URL, opts: AmqpOptions = {}): Promise<AmqpTransport> {
    const where = `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
    let conn: ChannelModel | undefined;
    try {
      conn = await connect(url.href, { ...opts, clientProperties: { connection_name: "ari-proxy node sdk", product: "ari-proxy node sdk" } });
      const pub = await conn.createChannel();
      for (const [name, kind] of exchangeKinds) await pub.assertExchange(name, kind, { durable: true, autoDelete: false });
      return new AmqpTransport(conn, pub, where);
    } catch (err) {
      await conn?.close().catch(() => {});
      throw new UnavailableError(`connect to ${where}: ${(err as Error).message}`, { cause: err });
    }
  }

  publish(subject: string, data: Uint8Array, reply?: string): void {
    checkSubject(subject, false);
    this.check();
    const ex = exchangeOf(subject);
    const o: Options.Publish = {};
    if (reply) o.replyTo = reply;
    if (ex === AMQP_EXCHANGES.event) o.persistent = true;
    try {
      this.pub.publish(ex, subject, Buffer.from(data), o);
    } catch (err) {
      throw this.closedOr(err);
    }
  }

  async subscribe(subject: string, cb: (m: BusMsg) => void, queue?: string): Promise<BusSub> {
    checkSubject(subject, true);
    this.check();
    const key = bindingKey(subject);
    const shared = !!queue;
    const qname = shared ? `${queue}-${key}` : SUBSCRIPTION_QUEUE_PREFIX + randomBytes(12).toString("hex");
    if (Buffer.byteLength(qname) > MAX_KEY) throw new ArgumentError(`subscribe ${subject}: queue name longer than 255 bytes`);
    // Shared queues on the request exchange are v5's create queues: no
    // arguments (a v5 server declaring the same name with others fails).
    const args = shared && exchangeOf(subject) === AMQP_EXCHANGES.request ? {} : queueArgs;
    let ch: Channel;
    try {
      ch = await this.conn.createChannel();
    } catch (err) {
      throw this.closedOr(err);
    }
    let failure: Error | undefined;
    ch.on("error", (err: Error) => (failure = err));
    let stopped = false;
    try {
      await ch.prefetch(PREFETCH);
      await ch.assertQueue(qname, { durable: true, exclusive: false, autoDelete: false, arguments: args });
      for (const ex of exchangesOf(subject)) await ch.bindQueue(qname, ex, isFanout(ex) ? "" : key);
      await ch.consume(
        qname,
        (m) => {
          if (!m) return; // cancelled by the broker (queue deleted)
          let s = m.fields.routingKey;
          if (s === "" && isFanout(m.fields.exchange)) s = subject; // a publisher that gives fanouts no key
          if (!stopped && matchSubject(subject, s)) cb({ subject: s, data: m.content, noResponders: false });
          try {
            ch.ack(m);
          } catch {
            // the channel closed (unsubscribed): the broker requeues nothing of a deleted queue
          }
        },
        { noAck: false },
      );
    } catch (err) {
      ch.close().catch(() => {});
      throw new UnavailableError(`bus: subscribe ${subject}: ${(failure ?? (err as Error)).message}`, { cause: failure ?? err });
    }
    return {
      unsubscribe: () => {
        if (stopped) return;
        stopped = true;
        // A private queue goes now rather than when it expires; a shared one stays for the other members.
        this.track((shared ? Promise.resolve() : ch.deleteQueue(qname).then(() => {})).catch(() => {}).then(() => ch.close()));
      },
    };
  }

  async request(subject: string, data: Uint8Array, onReply: (m: BusMsg) => void, onLost: (err: Error) => void): Promise<BusRequest> {
    checkSubject(subject, false);
    this.check();
    let rc: ReplyChannel;
    try {
      rc = await this.replyChannel();
    } catch (err) {
      throw this.closedOr(err);
    }
    const corr = this.corrPrefix + (++this.corrSeq).toString(36);
    rc.current = { corr, got: 0, onReply, onLost };
    try {
      rc.ch.publish(exchangeOf(subject), subject, Buffer.from(data), { mandatory: true, replyTo: DIRECT_REPLY_TO, correlationId: corr });
    } catch (err) {
      rc.current = undefined;
      rc.tainted = true;
      this.release(rc);
      throw this.closedOr(err);
    }
    let ended = false;
    return {
      end: () => {
        if (ended) return;
        ended = true;
        rc.current = undefined;
        this.release(rc);
      },
    };
  }

  private async replyChannel(): Promise<ReplyChannel> {
    const now = Date.now();
    while (this.idle.length > 0 && (this.idle[0] as ReplyChannel).readyAt <= now) {
      const rc = this.idle.shift() as ReplyChannel;
      if (!rc.closed && !rc.tainted) return rc;
      this.closeChannel(rc);
    }
    return ReplyChannel.open(this.conn);
  }

  // Puts rc back in the pool after its quarantine, or closes it.
  private release(rc: ReplyChannel): void {
    if (!rc.tainted && !rc.closed && !this.closing && this.idle.length < MAX_IDLE) {
      rc.readyAt = Date.now() + REPLY_QUARANTINE;
      this.idle.push(rc);
      return;
    }
    this.closeChannel(rc);
  }

  private closeChannel(rc: ReplyChannel): void {
    if (rc.closed) return;
    rc.closed = true;
    this.track(rc.ch.close().catch(() => {}));
  }

  private track(p: Promise<unknown>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const rc of this.idle.splice(0)) this.closeChannel(rc);
    await Promise.allSettled([...this.pending]);
    if (this.lost) return;
    await this.conn.close().catch(() => {});
  }

  private check(): void {
    if (this.closing) throw new ClosedError("bus connection closed");
    if (this.lost) throw this.lost;
  }

  private closedOr(err: unknown): Error {
    if (this.closing) return new ClosedError("bus connection closed", { cause: err });
    if (this.lost) return this.lost;
    return new UnavailableError(`bus: ${(err as Error).message}`, { cause: err });
  }
}
