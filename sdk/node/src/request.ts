// Building request envelopes: the SDK's port of wire.NewRequest, driven
// by the same kind table (generated/tables.ts).

import { ArgumentError } from "./errors.js";
import { cleanKey, type Key } from "./key.js";
import { kindForOp, lookupKind, lookupOperation, opParam, type KindRow, type OperationRow, type ParamRow } from "./tables.js";
import { describe, toSeconds } from "./time.js";

/** ARI parameters by their spec names. */
export type Params = Readonly<Record<string, unknown>>;

/** A request envelope as it travels on the bus (docs/schema/request.json). */
export interface Envelope {
  kind: string;
  key: Key;
  params?: Record<string, unknown>;
  [payloadField: string]: unknown;
}

/**
 * Checks and converts the caller's ARI parameters for operation `opId`
 * into a new object (the caller's is never modified): unknown names,
 * missing required parameters and values of the wrong type throw an
 * ArgumentError; time parameters (seconds) take numbers or Dates.
 * `keyParams` are filled from the key and not required.
 */
export function checkParams(opId: string, params: unknown, keyParams: readonly string[] = [], now = Date.now()): Record<string, unknown> {
  const op = lookupOperation(opId);
  if (!op) throw new ArgumentError(`unknown ARI operation ${JSON.stringify(opId)}`);
  if (params !== undefined && params !== null && (typeof params !== "object" || Array.isArray(params))) {
    throw new ArgumentError(`${opId}: parameters must be an object, not ${describe(params)}`);
  }
  const given = (params ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [name, v] of Object.entries(given)) {
    if (v === undefined || v === null) continue;
    const p = opParam(op, name);
    if (!p) {
      unknown.push(name);
      continue;
    }
    out[name] = checkValue(opId, p, v, now);
  }
  if (unknown.length) {
    throw new ArgumentError(`${opId} has no parameter ${unknown.sort().join(", ")} (it takes ${op.params.map((p) => p.name).join(", ") || "none"})`);
  }
  for (const p of op.params) {
    if (p.required && !(p.name in out) && !keyParams.includes(p.name)) {
      throw new ArgumentError(`${opId}: parameter ${p.name} is required`);
    }
  }
  return out;
}

function checkValue(opId: string, p: ParamRow, v: unknown, now: number): unknown {
  const where = `${opId}: ${p.name}`;
  if (p.seconds) return toSeconds(where, v as number | Date, now);
  const list = p.type.startsWith("List[") || p.multiple;
  const elem = p.type.startsWith("List[") ? p.type.slice(5, -1) : p.type;
  if (Array.isArray(v) && p.type === "containers") return structuredClone(v); // asterisk.updateObject's fields: a list of ConfigTuples
  if (Array.isArray(v)) {
    if (!list) throw new ArgumentError(`${where}: expected ${elem}, not an array`);
    return v.map((x) => checkScalar(where, p, elem, x));
  }
  if (p.type.startsWith("List[") && elem !== "string") {
    throw new ArgumentError(`${where}: expected an array of ${elem}`);
  }
  return checkScalar(where, p, elem, v);
}

function checkScalar(where: string, p: ParamRow, type: string, v: unknown): unknown {
  switch (type) {
    case "string":
      if (typeof v !== "string") throw new ArgumentError(`${where}: expected a string, not ${describe(v)}`);
      if (p.allowed?.length && !p.allowed.includes(v)) {
        throw new ArgumentError(`${where}: ${JSON.stringify(v)} is not one of ${p.allowed.join(", ")}`);
      }
      return v;
    case "int":
    case "long":
      if (typeof v !== "number" || !Number.isInteger(v)) throw new ArgumentError(`${where}: expected an integer, not ${describe(v)}`);
      return v;
    case "double":
      if (typeof v !== "number" || !Number.isFinite(v)) throw new ArgumentError(`${where}: expected a number, not ${describe(v)}`);
      return v;
    case "boolean":
      if (typeof v !== "boolean") throw new ArgumentError(`${where}: expected a boolean, not ${describe(v)}`);
      return v;
    case "containers":
    case "object":
      if (typeof v !== "object" || v === null) throw new ArgumentError(`${where}: expected an object, not ${describe(v)}`);
      return structuredClone(v);
  }
  return v;
}

function keyParamNames(k: KindRow): string[] {
  return k.keyParam ? k.keyParam.split("/") : [];
}

function keyID(k: KindRow, p: Record<string, unknown>): string | undefined {
  const names = keyParamNames(k);
  if (!names.length) return undefined;
  const parts: string[] = [];
  for (const n of names) {
    const s = p[n];
    if (typeof s !== "string" || s === "") return undefined;
    parts.push(s);
  }
  let id = parts.join("/");
  if (k.keyPrefix) {
    if (!id.startsWith(k.keyPrefix) || id.length === k.keyPrefix.length) return undefined;
    id = id.slice(k.keyPrefix.length);
  }
  return id;
}

function deleteKeyParams(k: KindRow, p: Record<string, unknown>): void {
  for (const n of keyParamNames(k)) delete p[n];
}

// isZero: the values v5 cannot tell from "unset".
function isZero(v: unknown): boolean {
  if (v === undefined || v === null || v === "" || v === false || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object") return Object.keys(v as object).length === 0;
  return false;
}

function ensurePath(obj: Record<string, unknown>, path: string): Record<string, unknown> {
  const parts = path.split(".");
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    let next = cur[part];
    if (typeof next !== "object" || next === null) {
      next = {};
      cur[part] = next;
    }
    cur = next as Record<string, unknown>;
  }
  return cur;
}

function convOut(conv: string | undefined, v: unknown, where: string): unknown {
  if (!conv) return v;
  const unit = conv === "ns-ms" ? 1e6 : 1e9;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new ArgumentError(`${where}: expected a number, not ${describe(v)}`);
  const ns = Math.round(v * unit);
  if (!Number.isSafeInteger(ns)) throw new ArgumentError(`${where}: duration ${v} out of range`);
  return ns;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The envelope of kind `k` for `key` and checked ARI params (see
 * checkParams): params with a v5 binding travel in the payload field (in
 * v5 units), the key's id is taken from the key parameters when the key
 * has none, and everything else travels in `params`, which v5 servers
 * ignore. The key is never null and the payload field always present
 * (v5 servers dereference both).
 */
export function newRequest(k: KindRow, key: Key | undefined, params: Record<string, unknown>): Envelope {
  const op: OperationRow | undefined = k.op ? lookupOperation(k.op) : undefined;
  if (k.op && !op) throw new ArgumentError(`kind ${k.name}: unknown ARI operation ${k.op}`);
  const kk: { -readonly [P in keyof Key]: Key[P] } = { ...cleanKey(key) };
  const rest: Record<string, unknown> = {};
  for (const [n, v] of Object.entries(params)) if (v !== undefined && v !== null) rest[n] = v;
  if (op) {
    const unknown = Object.keys(rest).filter((n) => !opParam(op, n));
    if (unknown.length) throw new ArgumentError(`${op.path}: no parameter ${unknown.sort().join(", ")}`);
  }
  for (const [n, v] of Object.entries(k.fixed ?? {})) {
    if (n in rest && same(rest[n], v)) delete rest[n];
  }
  // A key that already names the entity carries its parameters.
  if (kk.id && (!k.keyRef || kk.kind === k.keyKind) && keyID(k, rest) === kk.id) deleteKeyParams(k, rest);

  const env: Envelope = { kind: k.name, key: kk };
  if (k.field) {
    const payload: Record<string, unknown> = {};
    for (const b of k.bindings ?? []) ensurePath(payload, b.path);
    for (const b of k.bindings ?? []) {
      if (!(b.param in rest)) continue;
      const v = rest[b.param];
      const prm = opParam(op, b.param);
      if (isZero(v) && !prm?.required) {
        if (v === "") delete rest[b.param];
        continue;
      }
      const leaf = b.path.split(".").pop() as string;
      ensurePath(payload, b.path)[leaf] = convOut(b.conv, v, `${k.name}: ${b.param}`);
      delete rest[b.param];
    }
    env[k.field] = payload;
  }
  if (k.keyParam) {
    const id = keyID(k, rest);
    if (id !== undefined && !kk.id && (!k.keyRef || !kk.kind || kk.kind === k.keyKind)) {
      kk.id = id;
      if (!kk.kind) kk.kind = k.keyKind;
      deleteKeyParams(k, rest);
    }
  }
  if (k.appParam && typeof rest[k.appParam] === "string") {
    const app = rest[k.appParam] as string;
    if (!kk.app) {
      kk.app = app;
      delete rest[k.appParam];
    } else if (kk.app === app) {
      delete rest[k.appParam];
    }
  }
  if (!kk.kind && kk.id && !k.keyRef && k.keyKind) kk.kind = k.keyKind;
  env.key = cleanKey(kk);
  if (Object.keys(rest).length) env.params = rest;
  return env;
}

/** The key parameter names of kind `k` ("tech/resource" -> tech, resource). */
export function kindKeyParams(k: KindRow): readonly string[] {
  return keyParamNames(k);
}

/**
 * Whether k is a create-class kind whose key names an existing entity it
 * acts on (ChannelPlay, BridgeRecord), rather than the entity it creates:
 * such a request with a partial key first looks the entity's node up.
 */
export function actsOnExisting(k: KindRow, key: Key): boolean {
  if (k.class !== "create" || k.stage || !k.keyParam || k.keyRef || key.kind !== k.keyKind) return false;
  const r = k.result;
  return r.kind !== k.keyKind || (!!r.idParam && r.idParam !== k.keyParam);
}

/**
 * What a typed method sends for ARI operation `opId` about `key` (the
 * handle's key; {} for collections): the kind (wire.KindForOp), the key
 * and the checked parameters. The key's id stands for the key parameters
 * of the operation's generic kind (channelId, tech/resource...); when the
 * kind sent names them differently, they travel as parameters.
 */
export function prepare(opId: string, key: Key | undefined, params: unknown, now = Date.now()): { kind: KindRow; key: Key; params: Record<string, unknown> } {
  const k = kindForOp(opId);
  const gk = lookupKind(opId);
  if (!k || !gk) throw new ArgumentError(`unknown ARI operation ${JSON.stringify(opId)}`);
  let kk: Key = cleanKey(key);
  const names = kk.id ? keyParamNames(gk) : [];
  const p = checkParams(opId, params, names, now);
  if (kk.id && names.length && k !== gk) {
    const parts = names.length > 1 ? kk.id.split("/") : [kk.id];
    if (parts.length !== names.length || parts.includes("")) throw new ArgumentError(`${opId}: key id ${JSON.stringify(kk.id)} is not ${gk.keyParam}`);
    const sent = new Set(keyParamNames(k));
    if (!names.every((n) => sent.has(n))) {
      names.forEach((n, i) => {
        if (!(n in p)) p[n] = parts[i];
      });
      const { kind: _kind, id: _id, ...rest } = kk;
      kk = rest;
    }
  }
  return { kind: k, key: kk, params: p };
}
