// AriProxy: the connection to the ari-proxy servers on the bus.

import type { ConnectionOptions } from "@nats-io/transport-node";
import { Ajv2020 } from "ajv/dist/2020.js";
import type { ValidateFunction } from "ajv";

import { ArgumentError, AriProxyError, ClosedError, InternalError, TimeoutError, UnavailableError, replyError } from "./errors.js";
import { Subscription, type SubscribeOptions } from "./events.js";
import { GeneratedClient, ChannelHandle } from "./generated/api.js";
import type { AriEvent, StasisStart } from "./generated/models.js";
import { announcementSchema, eventSchema, responseSchema } from "./generated/schemas.js";
import { DEFAULT_PREFIX, DIALOG_UNBIND_KIND, LISTEN_QUEUE } from "./generated/tables.js";
import type { CallOptions, Caller } from "./handle.js";
import { cleanKey, type Key } from "./key.js";
import type { Reply } from "./reply.js";
import { actsOnExisting, newRequest, prepare, type Envelope } from "./request.js";
import { locator, lookupKind, type KindRow } from "./tables.js";
import { Conference } from "./conference.js";
import { newDialogID } from "./dialog.js";
import { checkBusURL, NatsTransport, type BusMsg, type BusSub, type Transport } from "./transport.js";

/** Default request timeout, in milliseconds (as OpenTok's). */
export const DEFAULT_TIMEOUT = 20_000;
/** Default time the client waits for the first server announcement, in milliseconds. */
export const DEFAULT_DISCOVERY_WAIT = 250;
/** Default time a server is remembered after its last announcement, in milliseconds. */
export const DEFAULT_SERVER_TTL = 30_000;
/** The bus the client connects to when neither the options nor the environment name one. */
export const DEFAULT_URL = "nats://127.0.0.1:4222";
/** Environment variables read when an option is absent. */
export const ENV = Object.freeze({ application: "ARI_APPLICATION", url: "MESSAGEBUS_URL", natsURL: "NATS_URL" });

// How long, after the first answer, a request to every server waits for
// more when no server has announced itself (so it cannot know how many).
const UNKNOWN_SERVERS_GRACE = 100;
// How long New waits, after the first announcement, for the others.
const DISCOVERY_SETTLE = 50;
const UNBIND_TIMEOUT = 2_000;

/** Where the SDK logs; default: nowhere. */
export interface Logger {
  warn(message: string, fields?: Record<string, unknown>): void;
  debug?(message: string, fields?: Record<string, unknown>): void;
}

/** Options of `new AriProxy(options)`. The object is never modified. */
export interface AriProxyOptions {
  /** Bus URL, `nats://host:port` (default $MESSAGEBUS_URL, $NATS_URL, then DEFAULT_URL). `amqp://` is not supported yet. */
  readonly url?: string;
  /** The Stasis application the client works for (default $ARI_APPLICATION). Required. */
  readonly application?: string;
  /** Request timeout in milliseconds (default DEFAULT_TIMEOUT, 20 s). */
  readonly timeout?: number;
  /** Subject prefix (default "ari."). */
  readonly prefix?: string;
  /** Pin handles and creates to this node (Asterisk entity id). */
  readonly node?: string;
  /** Every request carries this dialog (see dialogEvents). */
  readonly dialog?: string;
  /** Milliseconds to wait for the first server announcement (default DEFAULT_DISCOVERY_WAIT). */
  readonly discoveryWait?: number;
  /** Milliseconds a server is remembered after its last announcement (default DEFAULT_SERVER_TTL). */
  readonly serverTTL?: number;
  /** Options passed to the NATS client (credentials, TLS, reconnects...). */
  readonly natsOptions?: Readonly<Partial<ConnectionOptions>>;
  /** Where to log (default: nowhere). */
  readonly logger?: Logger;
}

/** Options of listen(). */
export interface ListenOptions {
  /** Called when a handler throws or rejects (default: the logger). */
  readonly onError?: (err: unknown, channel: ChannelHandle) => void;
}

/** A running listen(): close() stops taking new calls. */
export interface Listener {
  /** How many calls this listener has taken. */
  readonly calls: number;
  /** Stops taking calls and waits for the running handlers. */
  close(): Promise<void>;
}

/** A handler of new calls. */
export type CallHandler = (channel: ChannelHandle, event: StasisStart) => void | Promise<void>;

interface Resolved {
  url: URL;
  application: string;
  timeout: number;
  prefix: string;
  node: string;
  dialog: string;
  discoveryWait: number;
  serverTTL: number;
  natsOptions: Readonly<Partial<ConnectionOptions>>;
  logger: Logger;
}

const silent: Logger = Object.freeze({ warn() {} });
const tokenRe = /^[^.*>\s]+$/;

function positive(name: string, v: unknown, def: number): number {
  if (v === undefined) return def;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new ArgumentError(`${name}: expected a positive number of milliseconds, not ${JSON.stringify(v)}`);
  return v;
}

function token(name: string, v: unknown, required: boolean): string {
  if (v === undefined || v === "") {
    if (required) throw new ArgumentError(`${name} is required`);
    return "";
  }
  if (typeof v !== "string" || !tokenRe.test(v)) throw new ArgumentError(`${name}: ${JSON.stringify(v)} is not a valid subject token (no ".", "*", ">" or white space)`);
  return v;
}

function resolve(options: AriProxyOptions | undefined): Resolved {
  if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
    throw new ArgumentError("options: expected an object such as { url, application, timeout }");
  }
  const o = options ?? {};
  const known = new Set(["url", "application", "timeout", "prefix", "node", "dialog", "discoveryWait", "serverTTL", "natsOptions", "logger"]);
  const unknown = Object.keys(o).filter((k) => !known.has(k));
  if (unknown.length) throw new ArgumentError(`options: unknown option ${unknown.join(", ")}`);
  const env = process.env;
  const url = checkBusURL(o.url ?? env[ENV.url] ?? env[ENV.natsURL] ?? DEFAULT_URL);
  const prefix = o.prefix ?? DEFAULT_PREFIX;
  if (typeof prefix !== "string" || !/^[^*>\s]*$/.test(prefix)) throw new ArgumentError(`prefix: ${JSON.stringify(prefix)} is not a subject prefix`);
  if (o.logger !== undefined && (typeof o.logger !== "object" || typeof o.logger.warn !== "function")) {
    throw new ArgumentError("logger: expected an object with a warn(message, fields) method");
  }
  if (o.natsOptions !== undefined && (typeof o.natsOptions !== "object" || o.natsOptions === null)) throw new ArgumentError("natsOptions: expected an object");
  return Object.freeze({
    url,
    application: token("application", o.application ?? env[ENV.application], true),
    timeout: positive("timeout", o.timeout, DEFAULT_TIMEOUT),
    prefix: prefix === "" ? DEFAULT_PREFIX : prefix.endsWith(".") ? prefix : prefix + ".",
    node: token("node", o.node, false),
    dialog: token("dialog", o.dialog, false),
    discoveryWait: positive("discoveryWait", o.discoveryWait, DEFAULT_DISCOVERY_WAIT),
    serverTTL: positive("serverTTL", o.serverTTL, DEFAULT_SERVER_TTL),
    natsOptions: Object.freeze({ ...(o.natsOptions ?? {}) }),
    logger: o.logger ?? silent,
  });
}


// The servers heard from: one entry per (node, application).
class Servers {
  private readonly last = new Map<string, { node: string; app: string; at: number }>();
  private readonly waiters: { app: string; resolve(): void }[] = [];
  constructor(private readonly ttl: number) {}

  seen(node: string, app: string): void {
    this.last.set(`${node}\u0000${app}`, { node, app, at: Date.now() });
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i] as { app: string; resolve(): void };
      if (w.app === "" || w.app === app) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  waitFirst(app: string): Promise<void> {
    if (this.count(app) > 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ app, resolve }));
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, s] of this.last) if (now - s.at > this.ttl) this.last.delete(id);
  }

  count(app: string): number {
    return this.nodes(app).length;
  }

  entries(app: string): number {
    this.expire();
    let n = 0;
    for (const s of this.last.values()) if (app === "" || s.app === app) n++;
    return n;
  }

  nodes(app: string): string[] {
    this.expire();
    const out = new Set<string>();
    for (const s of this.last.values()) if (app === "" || s.app === app) out.add(s.node);
    return [...out].sort();
  }

  // Forgets the servers of app that did not answer and have not announced
  // since `since` (see docs/protocol.md, gathering answers).
  forgetSilent(app: string, answered: ReadonlySet<string>, since: number): string[] {
    const out: string[] = [];
    for (const [id, s] of this.last) {
      if ((app !== "" && s.app !== app) || answered.has(s.node) || s.at > since) continue;
      this.last.delete(id);
      if (!out.includes(s.node)) out.push(s.node);
    }
    return out.sort();
  }
}

// What a root client and the clients derived from it share.
class Core {
  transport?: Transport;
  readonly servers: Servers;
  readonly validate: { response: ValidateFunction; event: ValidateFunction; announcement: ValidateFunction };
  readonly subs = new Set<BusSub>();
  pingTimer?: NodeJS.Timeout;
  closed = false;
  ready: Promise<void>;

  constructor(readonly opts: Resolved) {
    this.servers = new Servers(opts.serverTTL);
    // One validator per client: no state shared between instances.
    const ajv = new Ajv2020({ strict: false, allErrors: false });
    this.validate = {
      response: ajv.compile(responseSchema),
      event: ajv.compile(eventSchema),
      announcement: ajv.compile(announcementSchema),
    };
    this.ready = this.start();
    this.ready.catch(() => {}); // reported to every caller that awaits it
  }

  private async start(): Promise<void> {
    const t = await NatsTransport.connect(this.opts.url, this.opts.natsOptions);
    if (this.closed) {
      await t.close();
      throw new ClosedError("client closed while connecting");
    }
    this.transport = t;
    const sub = await t.subscribe(this.opts.prefix + "announce", (m) => this.onAnnounce(m));
    this.subs.add(sub);
    const first = this.servers.waitFirst(this.opts.application);
    this.ping();
    let timer: NodeJS.Timeout | undefined;
    const start = Date.now();
    const got = await Promise.race([first.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), this.opts.discoveryWait)))]);
    clearTimeout(timer);
    if (got) {
      const settle = Math.min(DISCOVERY_SETTLE, this.opts.discoveryWait - (Date.now() - start));
      if (settle > 0) await new Promise((r) => setTimeout(r, settle));
    }
    this.pingTimer = setInterval(() => this.ping(), this.opts.serverTTL / 3);
    this.pingTimer.unref();
  }

  ping(): void {
    try {
      this.transport?.publish(this.opts.prefix + "ping", Buffer.from('{"kind":"","key":null}'));
    } catch (err) {
      if (!this.closed) this.opts.logger.warn("ping servers", { err });
    }
  }

  private onAnnounce(m: BusMsg): void {
    let a: unknown;
    try {
      a = JSON.parse(Buffer.from(m.data).toString("utf8"));
    } catch {
      return;
    }
    if (!this.validate.announcement(a)) {
      this.opts.logger.debug?.("ignoring bad announcement", { errors: this.validate.announcement.errors });
      return;
    }
    const { node, application } = a as { node: string; application: string };
    this.servers.seen(node, application);
  }

  async bus(): Promise<Transport> {
    if (this.closed) throw new ClosedError("client closed");
    await this.ready;
    if (this.closed || !this.transport) throw new ClosedError("client closed");
    return this.transport;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pingTimer);
    for (const s of this.subs) s.unsubscribe();
    this.subs.clear();
    await this.ready.catch(() => {});
    await this.transport?.close();
  }
}

// The answers to one request: the first success wins; an error other than
// "not found" wins over "not found" (it comes from the server that has the
// entity); lists merge every server's keys.
class Gather {
  answered = 0;
  readonly nodes = new Set<string>();
  anonymous = 0;
  ok?: Reply;
  failed?: AriProxyError;
  notFound?: AriProxyError;
  noResponders = false;

  constructor(
    readonly expected: number,
    readonly merge: boolean,
    private readonly kind: string,
    private readonly validate: ValidateFunction,
  ) {}

  // collect takes one reply and says whether to wait for another.
  collect(m: BusMsg): boolean {
    if (m.noResponders) {
      this.noResponders = true;
      return false;
    }
    this.answered++;
    let r: Reply;
    try {
      r = JSON.parse(Buffer.from(m.data).toString("utf8")) as Reply;
    } catch (err) {
      this.anonymous++;
      this.failed ??= new InternalError(`${this.kind}: bad reply: ${(err as Error).message}`);
      return this.more();
    }
    if (!this.validate(r)) {
      this.anonymous++;
      const why = this.validate.errors?.map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ");
      this.failed ??= new InternalError(`${this.kind}: reply does not match docs/schema/response.json (is the SDK older than the server?): ${why}`);
      return this.more();
    }
    if (r.node) this.nodes.add(r.node);
    else this.anonymous++;
    const err = replyError(r, this.kind);
    if (!err) {
      if (!this.merge) {
        this.ok = r;
        return false;
      }
      if (!this.ok) this.ok = { ...r, keys: [...(r.keys ?? [])] };
      else (this.ok.keys as (Key | null)[]).push(...(r.keys ?? []));
      return this.more();
    }
    if (err.code === "not_found") this.notFound ??= err;
    else this.failed ??= err;
    return this.more();
  }

  more(): boolean {
    return this.expected === 0 || this.answered < this.expected;
  }
}

function describeKey(k: Key): string {
  return k.id ? `${k.kind ?? ""} ${k.id}`.trim() : (k.kind ?? "");
}

interface Scope {
  app: string;
  node: string;
  dialog: string;
}

/**
 * A connection to the ari-proxy servers on the bus, for one Stasis
 * application: the whole ARI surface (collections such as `channels` and
 * `bridges`, handles such as `channel(id)`), events, listen() and the
 * OpenTok-shaped conference layer (`conference`).
 *
 * The constructor checks its options and throws an ArgumentError at once;
 * it connects in the background: `await client.ready()` to wait for the
 * connection and the first server announcements (every request waits for
 * them anyway). `close()` releases everything.
 */
export class AriProxy extends GeneratedClient {
  /** The OpenTok-shaped conference layer: sessions are mixing bridges. */
  readonly conference: Conference;
  /** The options in force, with the defaults applied (frozen). */
  readonly options: Readonly<{ application: string; timeout: number; prefix: string; node: string; dialog: string; url: string }>;

  private readonly core: Core;
  private readonly scope: Scope;
  private readonly root?: AriProxy;
  private readonly children = new Set<AriProxy>();
  private readonly subscriptions = new Set<Subscription>();
  private readonly listeners = new Set<Listener>();
  private isClosed = false;

  constructor(options?: AriProxyOptions);
  /** @internal */
  constructor(options: AriProxyOptions | undefined, derive: { core: Core; scope: Scope; root: AriProxy });
  constructor(options?: AriProxyOptions, derive?: { core: Core; scope: Scope; root: AriProxy }) {
    const caller: { target?: AriProxy } = {};
    const proxy: Caller = {
      call: (op, key, params, o) => (caller.target as AriProxy).call(op, key, params, o),
      fillKey: (key) => (caller.target as AriProxy).fillKey(key),
      subscribeResource: (kind, key, o) => (caller.target as AriProxy).subscribeResource(kind, key, o),
    };
    super(proxy);
    caller.target = this;
    if (derive) {
      this.core = derive.core;
      this.scope = derive.scope;
      this.root = derive.root;
    } else {
      const o = resolve(options);
      this.core = new Core(o);
      this.scope = { app: o.application, node: o.node, dialog: o.dialog };
    }
    const o = this.core.opts;
    this.options = Object.freeze({ application: this.scope.app, timeout: o.timeout, prefix: o.prefix, node: this.scope.node, dialog: this.scope.dialog, url: o.url.href });
    this.conference = new Conference(this);
  }

  /** Resolves once connected and the servers had a moment to announce themselves; rejects when the connection failed. */
  async ready(): Promise<void> {
    await this.core.bus();
  }

  /** The Stasis application the client works for. */
  get applicationName(): string {
    return this.scope.app;
  }

  /** The nodes (Asterisk entity ids) known to serve the application, sorted. */
  servers(): string[] {
    return this.core.servers.nodes(this.scope.app);
  }

  /** A client for another application sharing this connection. */
  withApplication(application: string): AriProxy {
    return this.derive({ ...this.scope, app: token("application", application, true) });
  }

  /** A client sharing this connection whose handles and creates are pinned to `node`. */
  withNode(node: string): AriProxy {
    return this.derive({ ...this.scope, node: token("node", node, true) });
  }

  /** A client sharing this connection whose requests carry `dialog` (see dialogEvents). */
  withDialog(dialog: string): AriProxy {
    return this.derive({ ...this.scope, dialog: token("dialog", dialog, true) });
  }

  private derive(scope: Scope): AriProxy {
    const root = this.root ?? this;
    if (root.isClosed) throw new ClosedError("client closed");
    const d = new AriProxy(undefined, { core: this.core, scope, root });
    root.children.add(d);
    return d;
  }

  /** @internal completes a key with the client's application, node and dialog. */
  fillKey(key: Key): Key {
    const k = { ...cleanKey(key) } as { -readonly [P in keyof Key]: Key[P] };
    if (!k.app && this.scope.app) k.app = this.scope.app;
    if (!k.node && this.scope.node) k.node = this.scope.node;
    if (!k.dialog && this.scope.dialog) k.dialog = this.scope.dialog;
    return k;
  }

  /**
   * Sends the request of ARI operation `opId` ("channels.answer") about
   * the entity `key` names, with ARI parameters by their spec names, and
   * returns the raw reply. Every generated method calls it; use it for
   * what the typed surface does not cover. Rejects with the AriProxyError
   * of the reply's error code.
   */
  async call(opId: string, key: Key, params?: object, options?: CallOptions): Promise<Reply> {
    if (this.isClosed) throw new ClosedError("client closed");
    const { kind, key: k2, params: p } = prepare(opId, key, params);
    return this.callKind(kind, k2, p, options);
  }

  private async callKind(k: KindRow, key: Key, params: Record<string, unknown>, options?: CallOptions): Promise<Reply> {
    let full = this.fillKey(key);
    if (!full.node && full.id && actsOnExisting(k, full)) {
      // A create goes to one server of the application, any of them: find
      // first the node that has the entity it acts on.
      const lk = full.kind ? locator(full.kind) : undefined;
      if (lk) {
        const resp = await this.callKind(lk, full, {}, options);
        if (resp.key?.node) full = { ...full, node: resp.key.node };
      }
    }
    const env = newRequest(k, full, params);
    return this.send(k.class, env, k.result.shape === "keys", options);
  }

  private async send(cls: string, env: Envelope, merge: boolean, options?: CallOptions): Promise<Reply> {
    const timeout = options?.timeout === undefined ? this.core.opts.timeout : positive("timeout", options.timeout, 0);
    const bus = await this.core.bus();
    const key = env.key;
    const prefix = this.core.opts.prefix;
    let subject: string;
    let expected = 1;
    let everyServer = false;
    if (key.node && key.app) subject = `${prefix}${cls}.${key.app}.${key.node}`;
    else {
      subject = key.app ? `${prefix}${cls}.${key.app}` : `${prefix}${cls}`;
      if (cls !== "create") {
        expected = this.core.servers.count(key.app ?? "");
        everyServer = true;
      }
    }
    const g = new Gather(expected, merge && expected !== 1, env.kind, this.core.validate.response);
    const start = Date.now();
    const inbox = bus.inbox();
    let timedOut = false;
    await new Promise<void>((resolveDone, rejectDone) => {
      let grace: NodeJS.Timeout | undefined;
      let sub: BusSub | undefined;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        clearTimeout(grace);
        sub?.unsubscribe();
        if (sub) this.core.subs.delete(sub);
        resolveDone();
      };
      const timer = setTimeout(() => {
        timedOut = true;
        finish();
      }, timeout);
      bus
        .subscribe(inbox, (m) => {
          if (finished) return;
          const first = g.answered === 0;
          if (!g.collect(m)) return finish();
          if (first && expected === 0) grace = setTimeout(finish, UNKNOWN_SERVERS_GRACE);
        })
        .then((s) => {
          sub = s;
          this.core.subs.add(s);
          if (finished) return s.unsubscribe();
          bus.publish(subject, Buffer.from(JSON.stringify(env)), inbox);
        })
        .catch((err) => {
          clearTimeout(timer);
          rejectDone(err);
        });
    });
    if (timedOut && everyServer && expected > 0 && g.answered < expected && g.anonymous === 0) {
      for (const node of this.core.servers.forgetSilent(key.app ?? "", g.nodes, start)) {
        this.core.opts.logger.warn("forgetting a server that did not answer before the deadline", { node, app: key.app });
      }
      this.core.ping();
    }
    const what = `${env.kind} ${describeKey(key)}`.trim();
    if (g.ok) return g.ok;
    if (g.failed) throw g.failed;
    if (g.notFound) throw g.notFound;
    if (g.noResponders) throw new UnavailableError(`${what}: no server on ${subject}`, { kind: env.kind });
    if (this.isClosed) throw new ClosedError(`${what}: client closed`);
    throw new TimeoutError(`${what}: no answer within ${timeout} ms`, { kind: env.kind });
  }

  private async newSubscription(subject: string, options: SubscribeOptions | undefined, dialog: string, mention?: (raw: string) => boolean, onRelease?: () => Promise<void>): Promise<Subscription> {
    if (this.isClosed) throw new ClosedError("client closed");
    checkSubscribeOptions(options);
    const bus = await this.core.bus();
    let busSub: BusSub | undefined;
    const sub: Subscription = new Subscription({
      options: { ...options },
      dialog,
      ...(mention ? { mention } : {}),
      release: async () => {
        this.subscriptions.delete(sub);
        if (busSub) {
          busSub.unsubscribe();
          this.core.subs.delete(busSub);
        }
        await onRelease?.();
      },
    });
    busSub = await bus.subscribe(subject, (m) => {
      const raw = Buffer.from(m.data).toString("utf8");
      let ev: unknown;
      try {
        ev = JSON.parse(raw);
      } catch {
        return;
      }
      if (!this.core.validate.event(ev)) {
        this.core.opts.logger.warn("dropping an event that does not match docs/schema/event.json", { subject: m.subject, errors: this.core.validate.event.errors });
        return;
      }
      sub.deliver(ev as AriEvent, raw);
    });
    this.core.subs.add(busSub);
    this.subscriptions.add(sub);
    return sub;
  }

  /**
   * Every event of the application, from every server (of
   * `options.types` only, when given). Resolves once the subscription is
   * active on the bus.
   */
  subscribe(options?: SubscribeOptions): Promise<Subscription> {
    return this.newSubscription(`${this.core.opts.prefix}event.${this.scope.app}.>`, options, "");
  }

  /**
   * The events the servers publish for `dialog`: those of the resources
   * that requests carrying it touched or created (see withDialog).
   * Subscribe before sending the requests so that no event is missed.
   */
  dialogEvents(dialog: string, options?: SubscribeOptions): Promise<Subscription> {
    return this.newSubscription(`${this.core.opts.prefix}dialogevent.${token("dialog", dialog, true)}`, options, dialog);
  }

  /** @internal watches one resource through a fresh dialog (handle.subscribe). */
  async subscribeResource(subscribeKind: string, key: Key, options?: SubscribeOptions): Promise<Subscription> {
    const k = lookupKind(subscribeKind);
    if (!k) throw new ArgumentError(`unknown kind ${subscribeKind}`);
    const dialog = newDialogID();
    const full = { ...this.fillKey(key), dialog };
    const id = JSON.stringify(full.id ?? "");
    const target = ":" + id.slice(1);
    const sub = await this.newSubscription(`${this.core.opts.prefix}dialogevent.${dialog}`, options, dialog, (raw) => raw.includes(id) || raw.includes(target), () =>
      this.unbind({ dialog, ...(full.app ? { app: full.app } : {}), ...(full.node ? { node: full.node } : {}) }),
    );
    try {
      await this.send(k.class, newRequest(k, full, {}), false);
    } catch (err) {
      await sub.close();
      throw err;
    }
    return sub;
  }

  private async unbind(key: Key): Promise<void> {
    if (this.core.closed) return;
    const k = lookupKind(DIALOG_UNBIND_KIND);
    const env: Envelope = { kind: DIALOG_UNBIND_KIND, key: cleanKey(key) };
    try {
      await this.send(k?.class ?? "command", env, false, { timeout: UNBIND_TIMEOUT });
    } catch (err) {
      // v5 servers answer not implemented: their bindings end with the resources.
      this.core.opts.logger.debug?.("dialog unbind", { dialog: key.dialog, err });
    }
  }

  /** Tells the servers to stop publishing events on `dialog`, for every resource bound to it. */
  async unbindDialog(dialog: string): Promise<void> {
    if (this.isClosed) throw new ClosedError("client closed");
    await this.send("command", { kind: DIALOG_UNBIND_KIND, key: this.fillKey({ dialog: token("dialog", dialog, true) }) }, false);
  }

  /**
   * Hands each new call of the application (StasisStart) to `handler`:
   * every new call goes to exactly one of the instances listening for the
   * application, in any language (v5 clients too), through the queue group
   * v5 uses. Resolves once the listener is active on the bus.
   */
  async listen(handler: CallHandler, options: ListenOptions = {}): Promise<Listener> {
    if (typeof handler !== "function") throw new ArgumentError("listen: expected a handler function (channel, event) => ...");
    if (options.onError !== undefined && typeof options.onError !== "function") throw new ArgumentError("listen: onError must be a function");
    if (this.isClosed) throw new ClosedError("client closed");
    const bus = await this.core.bus();
    const running = new Set<Promise<void>>();
    let calls = 0;
    let stopped = false;
    const onError = options.onError ?? ((err: unknown, ch: ChannelHandle) => this.core.opts.logger.warn("call handler failed", { channel: ch.id, err }));
    const busSub = await bus.subscribe(
      `${this.core.opts.prefix}event.${this.scope.app}.>`,
      (m) => {
        if (stopped) return;
        const raw = Buffer.from(m.data).toString("utf8");
        if (!raw.includes('"StasisStart"')) return; // most events are not new calls
        let ev: unknown;
        try {
          ev = JSON.parse(raw);
        } catch {
          return;
        }
        if (!this.core.validate.event(ev) || (ev as AriEvent).type !== "StasisStart") return;
        const ss = ev as StasisStart;
        calls++;
        const ch = this.channelFromKey({ kind: "channel", id: ss.channel.id, node: ss.asterisk_id ?? "", app: ss.application });
        const p = (async () => handler(ch, ss))().catch((err) => onError(err, ch));
        running.add(p);
        void p.finally(() => running.delete(p));
      },
      LISTEN_QUEUE,
    );
    this.core.subs.add(busSub);
    const listener: Listener = {
      get calls() {
        return calls;
      },
      close: async () => {
        if (stopped) return;
        stopped = true;
        busSub.unsubscribe();
        this.core.subs.delete(busSub);
        this.listeners.delete(listener);
        await Promise.allSettled([...running]);
      },
    };
    this.listeners.add(listener);
    return listener;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Releases every subscription and listener made through the client.
   * Closing the root client (the one made with `new`) also closes the
   * clients derived from it and the bus connection. Idempotent.
   */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    await Promise.allSettled([...this.listeners].map((l) => l.close()));
    await Promise.allSettled([...this.subscriptions].map((s) => s.close()));
    if (this.root) {
      this.root.children.delete(this);
      return;
    }
    await Promise.allSettled([...this.children].map((c) => c.close()));
    await this.core.close();
  }
}

function checkSubscribeOptions(o: SubscribeOptions | undefined): void {
  if (o === undefined) return;
  if (typeof o !== "object" || o === null) throw new ArgumentError("subscribe options: expected an object such as { types: [\"StasisStart\"] }");
  if (o.types !== undefined && (!Array.isArray(o.types) || o.types.some((t) => typeof t !== "string" || t === ""))) {
    throw new ArgumentError("subscribe options: types must be an array of event type names");
  }
  if (o.bufferSize !== undefined && (!Number.isInteger(o.bufferSize) || o.bufferSize < 1)) throw new ArgumentError("subscribe options: bufferSize must be a positive integer");
}
