// Error classes, one per error code of the proxy (docs/protocol.md,
// "Errors"). Every error the SDK throws or rejects with is an
// AriProxyError; test with instanceof or on `code`.

/** The error codes of the bus protocol (`error_code` of a reply). */
export type ErrorCode =
  | "not_found"
  | "conflict"
  | "bad_request"
  | "unprocessable"
  | "unavailable"
  | "timeout"
  | "not_implemented"
  | "internal"
  | "unclaimed";

/** What an error knows beside its message. */
export interface ErrorDetails {
  /** The HTTP status Asterisk answered, when an ARI call was made. */
  status?: number;
  /** Asterisk's own message ("Channel not found"), when it sent one. */
  detail?: string;
  /** The node (Asterisk entity id) of the server that answered. */
  node?: string;
  /** The request kind that failed. */
  kind?: string;
  /** The v5 error text of the reply. */
  text?: string;
  cause?: unknown;
}

/** The base class of every error of the SDK. */
export class AriProxyError extends Error {
  /** The proxy's error code. */
  readonly code: ErrorCode;
  /** The HTTP status Asterisk answered, when an ARI call failed. */
  declare readonly status?: number;
  /** Asterisk's own message, when it sent one. */
  declare readonly detail?: string;
  /** The node of the server that answered. */
  declare readonly node?: string;
  /** The request kind that failed. */
  declare readonly kind?: string;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    if (details.status !== undefined) this.status = details.status;
    if (details.detail !== undefined) this.detail = details.detail;
    if (details.node !== undefined) this.node = details.node;
    if (details.kind !== undefined) this.kind = details.kind;
  }
}

/** The entity does not exist (ARI 404). */
export class NotFoundError extends AriProxyError {
  constructor(message: string, details?: ErrorDetails) {
    super("not_found", message, details);
  }
}

/** The entity is in the wrong state: not in Stasis, not in a bridge, already exists (ARI 409). */
export class ConflictError extends AriProxyError {
  constructor(message: string, details?: ErrorDetails) {
    super("conflict", message, details);
  }
}

/** Bad arguments (ARI 400), or an envelope the server cannot read. */
export class BadRequestError extends AriProxyError {
  constructor(message: string, details?: ErrorDetails) {
    super("bad_request", message, details);
  }
}

/**
 * An argument given to the SDK is invalid: thrown (or rejected with)
 * before anything is sent. A BadRequestError.
 */
export class ArgumentError extends BadRequestError {}

/** A referenced entity does not exist: the endpoint of an originate, a channel to add (ARI 422). */
export class UnprocessableError extends AriProxyError {
  constructor(message: string, details?: ErrorDetails) {
    super("unprocessable", message, details);
  }
}

/** No server can serve the request now: none listens, or its Asterisk is unreachable (ARI 503/502). */
export class UnavailableError extends AriProxyError {
  constructor(message: string, details?: ErrorDetails) {
    super("unavailable", message, details);
  }
}

/** No answer before the request timeout, or the ARI call took too long (ARI 504). */
export class TimeoutError extends AriProxyError {
  constructor(message: string, details?: ErrorDetails) {
    super("timeout", message, details);
  }
}

/** The server does not know the request kind (a v5 server and one of our generic kinds). */
export class NotImplementedError extends AriProxyError {
  constructor(message: string, details?: ErrorDetails) {
    super("not_implemented", message, details);
  }
}

/** Anything else, including a reply that does not match the protocol's schema. */
export class InternalError extends AriProxyError {
  constructor(message: string, details?: ErrorDetails) {
    super("internal", message, details);
  }
}

/**
 * The answer of a server to a probe about a resource it has not seen
 * (docs/protocol.md, "Probing for a resource's node"): it did not ask its
 * Asterisk. Only a request marked as a probe gets it; the SDK sends none.
 */
export class UnclaimedError extends AriProxyError {
  constructor(message: string, details?: ErrorDetails) {
    super("unclaimed", message, details);
  }
}

/** The client (or the subscription) is closed. */
export class ClosedError extends UnavailableError {}

const classes: Readonly<Record<ErrorCode, new (message: string, details?: ErrorDetails) => AriProxyError>> = Object.freeze({
  not_found: NotFoundError,
  conflict: ConflictError,
  bad_request: BadRequestError,
  unprocessable: UnprocessableError,
  unavailable: UnavailableError,
  timeout: TimeoutError,
  not_implemented: NotImplementedError,
  internal: InternalError,
  unclaimed: UnclaimedError,
});

/** The error codes with a class, for checks against the schema's list. */
export const ERROR_CODES: readonly ErrorCode[] = Object.freeze(Object.keys(classes) as ErrorCode[]);

/** Makes the error of `code` (InternalError for an unknown code). */
export function errorForCode(code: string, message: string, details?: ErrorDetails): AriProxyError {
  const C = (classes as Record<string, (typeof classes)[ErrorCode]>)[code] ?? InternalError;
  return new C(message, details);
}

/** The code of an ARI HTTP status (wire.CodeForStatus). */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return "bad_request";
    case 404:
      return "not_found";
    case 409:
      return "conflict";
    case 422:
      return "unprocessable";
    case 502:
    case 503:
      return "unavailable";
    case 408:
    case 504:
      return "timeout";
    case 501:
      return "not_implemented";
  }
  return "internal";
}

/** The status in v5's "Non-2XX response: 404 Not Found", 0 when none. */
export function statusFromText(text: string): number {
  const m = /Non-2XX response: (\d{3})(?!\d)/.exec(text.slice(text.lastIndexOf("Non-2XX response: ")));
  return m ? Number(m[1]) : 0;
}

/** The code of a v5 error text (v5 servers send no `error_code`). */
export function codeFromText(text: string, status = 0): ErrorCode {
  if (status) return codeForStatus(status);
  const l = text.toLowerCase();
  if (text === "Not implemented") return "not_implemented";
  if (l.includes("not found")) return "not_found";
  if (l.includes("conflict")) return "conflict";
  if (l.includes("unprocessable")) return "unprocessable";
  if (l.includes("bad request")) return "bad_request";
  if (l.includes("timeout") || l.includes("timed out") || l.includes("deadline exceeded")) return "timeout";
  if (l.includes("unavailable") || l.includes("no responders")) return "unavailable";
  return "internal";
}

/** The wire members of an error reply. */
export interface ErrorReply {
  error: string;
  error_code?: string;
  ari_status?: number;
  error_detail?: string;
  node?: string;
}

/** The error of a reply, undefined on success. */
export function replyError(r: ErrorReply, kind?: string): AriProxyError | undefined {
  if (!r.error) return undefined;
  const status = r.ari_status ?? statusFromText(r.error);
  const code = r.error_code ?? codeFromText(r.error, status);
  const msg = `${kind ? kind + ": " : ""}${r.error}${r.error_detail ? ` (${r.error_detail})` : ""}`;
  const d: ErrorDetails = { text: r.error };
  if (status) d.status = status;
  if (r.error_detail) d.detail = r.error_detail;
  if (r.node) d.node = r.node;
  if (kind) d.kind = kind;
  return errorForCode(code, msg, d);
}
