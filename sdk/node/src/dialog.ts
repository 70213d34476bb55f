import { randomBytes } from "node:crypto";

/** A fresh random dialog id (a valid subject token). */
export function newDialogID(): string {
  return randomBytes(12).toString("hex");
}
