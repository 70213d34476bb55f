// The bus under the SDK. NATS through the NATS team's Node client; the
// RabbitMQ transport waits for the server side to support it.

import { connect, createInbox, type ConnectionOptions, type NatsConnection, type Subscription as NatsSub } from "@nats-io/transport-node";
import { ArgumentError, ClosedError, NotImplementedError, UnavailableError } from "./errors.js";

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

/** What the SDK needs of a bus. */
export interface Transport {
  publish(subject: string, data: Uint8Array, reply?: string): void;
  /** Subscribes; resolves once the server has the subscription. */
  subscribe(subject: string, cb: (m: BusMsg) => void, queue?: string): Promise<BusSub>;
  /** A fresh subject to receive replies on. */
  inbox(): string;
  close(): Promise<void>;
}

/** The URL schemes of the NATS transport. */
export const NATS_SCHEMES: readonly string[] = Object.freeze(["nats:", "tls:"]);
/** The URL schemes of the RabbitMQ transport (not supported yet). */
export const AMQP_SCHEMES: readonly string[] = Object.freeze(["amqp:", "amqps:"]);

/** Checks a bus URL; throws an ArgumentError or, for RabbitMQ, a NotImplementedError. */
export function checkBusURL(url: string): URL {
  if (typeof url !== "string" || url === "") throw new ArgumentError("url: expected a bus URL such as nats://127.0.0.1:4222");
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ArgumentError(`url: ${JSON.stringify(url)} is not a URL (expected e.g. nats://127.0.0.1:4222)`);
  }
  if (AMQP_SCHEMES.includes(u.protocol)) {
    throw new NotImplementedError(
      `url: RabbitMQ (${u.protocol}//) is not supported yet by this SDK: the proxy's RabbitMQ transport has not landed; use a nats:// URL`,
    );
  }
  if (!NATS_SCHEMES.includes(u.protocol)) {
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

  inbox(): string {
    return createInbox();
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
