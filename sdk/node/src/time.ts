import { ArgumentError } from "./errors.js";
import type { Seconds } from "./key.js";

/**
 * Whole seconds of a time option: a number of seconds is rounded to the
 * nearest whole second (a positive duration never becomes 0, which ARI
 * reads as "no limit"); a Date counts the seconds from `now` until then,
 * rounded up. Anything else throws an ArgumentError.
 */
export function toSeconds(name: string, v: Seconds, now: number = Date.now()): number {
  if (v instanceof Date) {
    const t = v.getTime();
    if (!Number.isFinite(t)) throw new ArgumentError(`${name}: invalid Date`);
    const s = Math.ceil((t - now) / 1000);
    if (s <= 0) throw new ArgumentError(`${name}: ${v.toISOString()} is not in the future`);
    return s;
  }
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new ArgumentError(`${name}: expected seconds (a finite number) or a Date, not ${describe(v)}`);
  }
  const r = Math.round(v);
  return r === 0 && v > 0 ? 1 : r;
}

/** A short description of a value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v);
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}
