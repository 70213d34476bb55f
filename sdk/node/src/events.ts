// Event subscriptions: every event of an application, of a dialog or of
// one resource, as an EventEmitter and as an async iterator.

import { EventEmitter } from "node:events";
import { ClosedError, TimeoutError } from "./errors.js";
import type { AriEvent, EventMap, EventType } from "./generated/models.js";

/** Options of the subscriptions. */
export interface SubscribeOptions {
  /** Deliver only these event types ("StasisStart", ...); default every type. */
  readonly types?: readonly string[];
  /**
   * How many events the subscription holds for its async iterator and
   * next() before it drops the oldest (default DEFAULT_EVENT_BUFFER).
   */
  readonly bufferSize?: number;
}

/** Default SubscribeOptions.bufferSize. */
export const DEFAULT_EVENT_BUFFER = 1000;

/** Options of Subscription.next. */
export interface NextOptions {
  /** Wait for an event of this type, dropping the others. */
  readonly type?: string;
  /** Milliseconds to wait (default: no limit). */
  readonly timeout?: number;
}

interface Waiter {
  type?: string;
  resolve(ev: AriEvent | undefined): void;
  timer?: NodeJS.Timeout;
}

/**
 * A stream of ARI events. Listen with `on("event", ...)` (every event) or
 * `on("StasisStart", ...)` (one type), iterate with `for await`, or pull
 * with next(). It emits "close" once closed. Events are decoded JSON, as
 * Asterisk sent them (and validated against docs/schema/event.json).
 */
export class Subscription extends EventEmitter implements AsyncIterable<AriEvent> {
  /** The dialog the subscription listens to, "" for application subscriptions. */
  readonly dialog: string;
  /** Events dropped because the buffer was full. */
  dropped = 0;

  private readonly types?: ReadonlySet<string>;
  private readonly bufferSize: number;
  private readonly queue: AriEvent[] = [];
  private readonly waiters: Waiter[] = [];
  private isClosed = false;
  private closing?: Promise<void>;
  private readonly release: () => Promise<void>;
  private readonly mention?: (raw: string) => boolean;

  /** @internal */
  constructor(opts: { options?: SubscribeOptions; dialog?: string; release: () => Promise<void>; mention?: (raw: string) => boolean }) {
    super();
    this.dialog = opts.dialog ?? "";
    if (opts.options?.types?.length) this.types = new Set(opts.options.types);
    this.bufferSize = opts.options?.bufferSize ?? DEFAULT_EVENT_BUFFER;
    this.release = opts.release;
    if (opts.mention) this.mention = opts.mention;
  }

  /** Whether the subscription has been closed. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** @internal delivers one event; raw is its JSON text. */
  deliver(ev: AriEvent, raw: string): void {
    if (this.isClosed) return;
    if (this.types && !this.types.has(ev.type)) return;
    if (this.mention && !this.mention(raw)) return;
    this.emit("event", ev);
    this.emit(ev.type, ev);
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i] as Waiter;
      if (!w.type || w.type === ev.type) {
        this.waiters.splice(i, 1);
        if (w.timer) clearTimeout(w.timer);
        w.resolve(ev);
        return;
      }
    }
    this.queue.push(ev);
    if (this.queue.length > this.bufferSize) {
      this.queue.shift();
      this.dropped++;
    }
  }

  /**
   * The next event (of `options.type` when given, dropping the others
   * before it). Rejects with a TimeoutError after `options.timeout` ms and
   * with a ClosedError when the subscription closes first.
   */
  next<K extends EventType>(options: NextOptions & { type: K }): Promise<EventMap[K]>;
  next(options?: NextOptions): Promise<AriEvent>;
  async next(options: NextOptions = {}): Promise<AriEvent> {
    const ev = await this.pull(options.type, options.timeout);
    if (!ev) throw new ClosedError("subscription closed");
    return ev;
  }

  private pull(type?: string, timeout?: number): Promise<AriEvent | undefined> {
    while (this.queue.length) {
      const ev = this.queue.shift() as AriEvent;
      if (!type || ev.type === type) return Promise.resolve(ev);
    }
    if (this.isClosed) return Promise.resolve(undefined);
    return new Promise<AriEvent | undefined>((resolve, reject) => {
      const w: Waiter = { resolve };
      if (type) w.type = type;
      if (timeout !== undefined) {
        w.timer = setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new TimeoutError(`no ${type ?? "event"} within ${timeout} ms`));
        }, timeout);
      }
      this.waiters.push(w);
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<AriEvent> {
    for (;;) {
      const ev = await this.pull();
      if (!ev) return;
      yield ev;
    }
  }

  /** Ends the subscription and releases what it holds on the bus and on the servers. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) {
      this.isClosed = true;
      for (const w of this.waiters.splice(0)) {
        if (w.timer) clearTimeout(w.timer);
        w.resolve(undefined);
      }
      this.closing = this.release().finally(() => this.emit("close"));
    }
    return this.closing;
  }
}

export interface Subscription {
  on(event: "event", listener: (ev: AriEvent) => void): this;
  on(event: "close", listener: () => void): this;
  on<K extends EventType>(event: K, listener: (ev: EventMap[K]) => void): this;
  once(event: "event", listener: (ev: AriEvent) => void): this;
  once(event: "close", listener: () => void): this;
  once<K extends EventType>(event: K, listener: (ev: EventMap[K]) => void): this;
}
