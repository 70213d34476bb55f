// The base classes of the generated handles and collections, and the
// helpers that turn replies into results.

import { ArgumentError, InternalError } from "./errors.js";
import { cleanKey, type Key } from "./key.js";
import type { Params } from "./request.js";
import type { Subscription, SubscribeOptions } from "./events.js";
import type { Reply } from "./reply.js";

export type { Key, WithKey, Seconds } from "./key.js";

/** Per-call options of every method. */
export interface CallOptions {
  /** Milliseconds to wait for the answers (default: the client's timeout). */
  readonly timeout?: number;
}

/** What handles and collections need from the client. */
export interface Caller {
  /** Sends the request of ARI operation `opId` about `key` and gathers the answers. */
  call(opId: string, key: Key, params: Params | object | undefined, options?: CallOptions): Promise<Reply>;
  /** Completes a key with the client's application, node and dialog. */
  fillKey(key: Key): Key;
  /** Watches one resource through a fresh dialog (see ChannelHandle.subscribe). */
  subscribeResource(subscribeKind: string, key: Key, options?: SubscribeOptions): Promise<Subscription>;
}

/** An entity on the bus, named by its key. */
export abstract class Handle {
  /** The handle's key: kind, id and where the entity lives. */
  readonly key: Key;

  /** @internal */
  constructor(
    /** @internal */ protected readonly caller: Caller,
    key: Key,
  ) {
    this.key = Object.freeze(cleanKey(key));
  }

  /** The entity's id. */
  get id(): string {
    return this.key.id ?? "";
  }

  /** The node (Asterisk entity id) the entity lives on, "" when unknown. */
  get node(): string {
    return this.key.node ?? "";
  }

  /** JSON form: the key. */
  toJSON(): Key {
    return this.key;
  }

  /** @internal checks one part of a key id. */
  static keyPart(id: string): string {
    if (typeof id !== "string" || id === "") throw new ArgumentError(`expected a non-empty id string, not ${JSON.stringify(id)}`);
    return id;
  }

  /** @internal checks a key given to a FromKey constructor. */
  static checkKey(key: Key, kind: string): Key {
    if (!key || typeof key !== "object") throw new ArgumentError("expected a key object");
    if (key.kind && key.kind !== kind) throw new ArgumentError(`expected a ${kind} key, not a ${key.kind} key`);
    if (!key.id) throw new ArgumentError(`the ${kind} key has no id`);
    return { ...key, kind };
  }
}

/** The operations of one ARI resource that address no single entity. */
export abstract class Collection {
  /** @internal */
  constructor(/** @internal */ protected readonly caller: Caller) {}
}

/** The key a key reply names, completed from the request's key. */
export function resultKey(resp: Reply, kind: string, base: Key): Key {
  if (!resp.key) throw new InternalError(`reply names no ${kind}`);
  const k = { ...resp.key };
  if (!k.kind) k.kind = kind;
  if (!k.app && base.app) k.app = base.app;
  if (!k.dialog && base.dialog) k.dialog = base.dialog;
  return cleanKey(k);
}

/** The keys a keys reply names. */
export function resultKeys(resp: Reply, kind: string, base: Key): Key[] {
  return (resp.keys ?? []).filter((k): k is Key => !!k).map((rk) => {
    const k = { ...rk };
    if (!k.kind) k.kind = kind;
    if (!k.app && base.app) k.app = base.app;
    return cleanKey(k);
  });
}

/** The entity of a data reply. */
export function entity<T>(resp: Reply, field: string): T {
  if (!resp.data || !(field in resp.data)) throw new InternalError(`reply has no data.${field}`);
  return resp.data[field] as T;
}

/** The value of a variable reply. */
export function variable(resp: Reply): string {
  const v = entity<unknown>(resp, "variable");
  if (typeof v !== "string") throw new InternalError("data.variable is not a string");
  return v;
}

/** The bytes of a binary reply (base64 on the wire). */
export function binary(resp: Reply, field: string): Buffer {
  const v = entity<unknown>(resp, field);
  if (typeof v !== "string") throw new InternalError(`data.${field} is not a base64 string`);
  return Buffer.from(v, "base64");
}

/** Member `wrap` of the entity of a data reply (a configuration object's fields). */
export function wrapped<T>(resp: Reply, field: string, wrap: string): T {
  const obj = entity<Record<string, unknown>>(resp, field);
  if (!obj || typeof obj !== "object" || !(wrap in obj)) throw new InternalError(`reply has no data.${field}.${wrap}`);
  return obj[wrap] as T;
}
