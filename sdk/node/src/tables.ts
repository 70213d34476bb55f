// Types of the generated tables (generated/tables.ts) and lookups over
// them. The tables are the Go side's: wire.Kinds and ari.Operations.

import { KINDS, OPERATIONS } from "./generated/tables.js";

/** How one value of a v5 payload maps onto one ARI parameter. */
export interface BindingRow {
  readonly path: string;
  readonly param: string;
  /** "ns-s": v5 nanoseconds for ARI seconds; "ns-ms": for milliseconds. */
  readonly conv?: "ns-s" | "ns-ms" | "";
}

/** How the reply to a kind carries its result. */
export interface ResultRow {
  readonly shape: "none" | "key" | "keys" | "data" | "variable";
  readonly kind?: string;
  readonly dataField?: string;
  readonly idParam?: string;
  readonly select?: boolean;
  readonly wrap?: string;
  readonly binary?: boolean;
  readonly exact?: boolean;
  readonly wrapParams?: readonly BindingRow[];
}

/** One row of the bus protocol's kind table (wire.Kind). */
export interface KindRow {
  readonly name: string;
  readonly class: "get" | "data" | "command" | "create";
  readonly op?: string;
  readonly keyKind?: string;
  readonly keyParam?: string;
  readonly field?: string;
  readonly bindings?: readonly BindingRow[];
  readonly result: ResultRow;
  readonly stage?: boolean;
  readonly keyPrefix?: string;
  readonly keyRef?: boolean;
  readonly appParam?: string;
  readonly fixed?: Readonly<Record<string, unknown>>;
  readonly generic?: boolean;
}

/** One parameter of an ARI operation. */
export interface ParamRow {
  readonly name: string;
  readonly in: "path" | "query" | "body";
  readonly type: string;
  readonly required?: boolean;
  readonly multiple?: boolean;
  readonly allowed?: readonly string[];
  /** A duration in whole seconds: the SDK takes seconds or a Date. */
  readonly seconds?: boolean;
}

/** One ARI operation (ari.Operation) and the kind a client sends for it. */
export interface OperationRow {
  readonly method: string;
  readonly path: string;
  readonly kind: string;
  readonly params: readonly ParamRow[];
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as object)) deepFreeze(x);
  }
  return v;
}
deepFreeze(KINDS);
deepFreeze(OPERATIONS);

const byName: ReadonlyMap<string, KindRow> = new Map(KINDS.map((k) => [k.name, k]));

/** The kind named `name` (v5 names and generic operation ids). */
export function lookupKind(name: string): KindRow | undefined {
  return byName.get(name);
}

/** The ARI operation `id` ("channels.answer"). */
export function lookupOperation(id: string): OperationRow | undefined {
  return Object.prototype.hasOwnProperty.call(OPERATIONS, id) ? OPERATIONS[id] : undefined;
}

/** The kind a client sends for ARI operation `id` (wire.KindForOp). */
export function kindForOp(id: string): KindRow | undefined {
  const op = lookupOperation(id);
  return op ? byName.get(op.kind) : undefined;
}

/** The parameter `name` of an operation. */
export function opParam(op: OperationRow | undefined, name: string): ParamRow | undefined {
  return op?.params.find((p) => p.name === name);
}

// The v5 "get" kinds that find the node of an entity by key kind
// (ChannelGet, BridgeGet...): they answer its key.
const locators: ReadonlyMap<string, KindRow> = (() => {
  const m = new Map<string, KindRow>();
  for (const k of KINDS) {
    if (k.class === "get" && k.result.shape === "key" && k.op && !k.stage && !k.generic && k.keyParam && k.keyKind && !m.has(k.keyKind)) {
      m.set(k.keyKind, k);
    }
  }
  return m;
})();

/** The kind that looks up the key (and so the node) of an entity of `keyKind`. */
export function locator(keyKind: string): KindRow | undefined {
  return locators.get(keyKind);
}
