/**
 * Names an entity on the bus: kind, id, and where it lives (node = the
 * Asterisk entity id, app, dialog). Every member is optional; a key
 * without node is partial: its requests go to every server of the
 * application.
 */
export interface Key {
  readonly kind?: string;
  readonly id?: string;
  readonly node?: string;
  readonly dialog?: string;
  readonly app?: string;
}

/** An ARI body as a data reply carries it, with the entity's key added. */
export type WithKey<T> = T & { key?: Key };

/** A duration in whole seconds (fractions are rounded), or a Date to count the seconds until. */
export type Seconds = number | Date;

const keyMembers = ["kind", "id", "node", "dialog", "app"] as const;

/** A copy of key with its empty members left out, as the wire writes it. */
export function cleanKey(key: Key | null | undefined): Key {
  const out: Record<string, string> = {};
  if (!key) return out;
  for (const m of keyMembers) {
    const v = key[m];
    if (typeof v === "string" && v !== "") out[m] = v;
  }
  return out;
}
