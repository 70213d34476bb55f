/**
 * The Node.js SDK of ari-proxy: the whole Asterisk REST Interface (ARI)
 * over the message bus, for any number of Asterisk servers, speaking the
 * ari-proxy v5 protocol (docs/protocol.md).
 *
 * @packageDocumentation
 */

export {
  AriProxy,
  DEFAULT_TIMEOUT,
  DEFAULT_DISCOVERY_WAIT,
  DEFAULT_SERVER_TTL,
  DEFAULT_URL,
  ENV,
  type AriProxyOptions,
  type CallHandler,
  type Listener,
  type ListenOptions,
  type Logger,
} from "./client.js";
export { newDialogID } from "./dialog.js";
export * from "./errors.js";
export { Subscription, DEFAULT_EVENT_BUFFER, type SubscribeOptions, type NextOptions } from "./events.js";
export { Handle, Collection, type CallOptions, type Caller } from "./handle.js";
export type { Key, WithKey, Seconds } from "./key.js";
export type { Reply } from "./reply.js";
export type { Params } from "./request.js";
export { toSeconds } from "./time.js";
export { kindForOp, lookupKind, lookupOperation, type KindRow, type OperationRow, type ParamRow, type ResultRow, type BindingRow } from "./tables.js";
export { DEFAULT_PREFIX, LISTEN_QUEUE } from "./generated/tables.js";
export { NATS_SCHEMES, AMQP_SCHEMES } from "./transport.js";
export {
  Conference,
  DEFAULT_ARCHIVE_FORMAT,
  type Archive,
  type ArchiveOptions,
  type DialOptions,
  type ForceMuteAllOptions,
  type ListArchivesOptions,
  type Session,
  type SessionOptions,
  type Signal,
  type SipCall,
  type Stream,
} from "./conference.js";
export * from "./generated/api.js";
export * from "./generated/models.js";
