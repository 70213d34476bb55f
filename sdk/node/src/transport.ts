// The bus under the SDK: NATS through the NATS team's Node client,
// RabbitMQ through amqplib (amqp.ts).

import { connect, createInbox, type ConnectionOptions, type NatsConnection, type Subscription as NatsSub } from "@nats-io/transport-node";
import { ArgumentError, ClosedError, UnavailableError } from "./errors.js";

/** A message received from the bus. */
export interface BusMsg {
  readonly subject: string;
  readonly data: Uint8Array;
  /** The bus said nobody listens on the subject the request went to. */
  readonly noResponders: boolean;
}

/** A subscription on the bus. */
export interface BusSub {
  unsubscribe(): void;
}

/** An outstanding request: its answers go to the callback until end(). */
export interface BusRequest {
  end(): void;
}

/** What the SDK needs of a bus. */
export interface Transport {
  publish(subject: string, data: Uint8Array, reply?: string): void;
  /** Subscribes; resolves once the server has the subscription. */
  subscribe(subject: string, cb: (m: BusMsg) => void, queue?: string): Promise<BusSub>;
  /**
   * Publishes a request and passes each answer to onReply until end() (a
   * request nobody listens to gets one message with noResponders set);
   * onLost is called when no answer can come any more (the connection or
   * the request's channel closed). Resolves once the request is sent.
   */
  request(subject: string, data: Uint8Array, onReply: (m: BusMsg) => void, onLost: (err: Error) => void): Promise<BusRequest>;
  close(): Promise<void>;
}

/** The URL schemes of the NATS transport. */
export const NATS_SCHEMES: readonly string[] = Object.freeze(["nats:", "tls:"]);
/** The URL schemes of the RabbitMQ transport. */
export const AMQP_SCHEMES: readonly string[] = Object.freeze(["amqp:", "amqps:"]);

/** Checks a bus URL; throws an ArgumentError. */
export function checkBusURL(url: string): URL {
  if (typeof url !== "string" || url === "") throw new ArgumentError("url: expected a bus URL such as nats://127.0.0.1:4222");
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ArgumentError(`url: ${JSON.stringify(url)} is not a URL (expected e.g. nats://127.0.0.1:4222)`);
  }
  if (!NATS_SCHEMES.includes(u.protocol) && !AMQP_SCHEMES.includes(u.protocol)) {
    throw new ArgumentError(`url: unsupported scheme ${u.protocol} (expected ${[...NATS_SCHEMES, ...AMQP_SCHEMES].map((s) => s + "//").join(", ")})`);
  }
  if (!u.hostname) throw new ArgumentError(`url: ${JSON.stringify(url)} names no host`);
  return u;
}

/** NATS: one connection, closed by close(). */
export class NatsTransport implements Transport {
  private constructor(private readonly nc: NatsConnection) {}

  static async connect(url: URL, opts: Readonly<Partial<ConnectionOptions>> = {}): Promise<NatsTransport> {
    const server = `${url.protocol}//${url.host}`;
    const o: Partial<ConnectionOptions> = { name: "ari-proxy node sdk", ...opts, servers: [server] };
    if (url.username && o.user === undefined) o.user = decodeURIComponent(url.username);
    if (url.password && o.pass === undefined) o.pass = decodeURIComponent(url.password);
    try {
      return new NatsTransport(await connect(o));
    } catch (err) {
      throw new UnavailableError(`connect to ${server}: ${(err as Error).message}`, { cause: err });
    }
  }

  publish(subject: string, data: Uint8Array, reply?: string): void {
    try {
      this.nc.publish(subject, data, reply ? { reply } : undefined);
    } catch (err) {
      throw this.closedOr(err);
    }
  }

  async subscribe(subject: string, cb: (m: BusMsg) => void, queue?: string): Promise<BusSub> {
    let sub: NatsSub;
    try {
      sub = this.nc.subscribe(subject, {
        ...(queue ? { queue } : {}),
        callback: (err, msg) => {
          if (err) return;
          const noResponders = msg.data.length === 0 && msg.headers?.code === 503;
          cb({ subject: msg.subject, data: msg.data, noResponders });
        },
      });
      await this.nc.flush();
    } catch (err) {
      throw this.closedOr(err);
    }
    return { unsubscribe: () => sub.unsubscribe() };
  }

  async request(subject: string, data: Uint8Array, onReply: (m: BusMsg) => void): Promise<BusRequest> {
    const inbox = createInbox();
    const sub = await this.subscribe(inbox, onReply);
    try {
      this.publish(subject, data, inbox);
    } catch (err) {
      sub.unsubscribe();
      throw err;
    }
    return { end: () => sub.unsubscribe() };
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.close();
  }

  private closedOr(err: unknown): Error {
    if (this.nc.isClosed()) return new ClosedError("bus connection closed", { cause: err });
    return new UnavailableError(`bus: ${(err as Error).message}`, { cause: err });
  }
}
