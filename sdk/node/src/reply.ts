import type { Key } from "./key.js";

/** A reply as it travels on the bus (docs/schema/response.json). */
export interface Reply {
  error: string;
  error_code?: string;
  ari_status?: number;
  error_detail?: string;
  data?: Record<string, unknown>;
  key?: Key;
  keys?: (Key | null)[] | null;
  node?: string;
  [member: string]: unknown;
}
