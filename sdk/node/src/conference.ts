// The conference layer, in the shape of the OpenTok Node SDK's server
// API: a session is a mixing bridge, a stream (or connection) is a
// channel in it, an archive is a recording of the bridge.

import { ArgumentError, NotFoundError, TimeoutError } from "./errors.js";
import type { BridgeHandle, ChannelHandle } from "./generated/api.js";
import type * as M from "./generated/models.js";
import type { AriProxy } from "./client.js";
import type { Seconds } from "./key.js";
import { newDialogID } from "./dialog.js";

/** Options of createSession. */
export interface SessionOptions {
  /** A name for the bridge (ARI's `name`). */
  readonly name?: string;
  /** The session id to use (the bridge id); default: one made up. */
  readonly sessionId?: string;
  /**
   * The node (Asterisk entity id) to create the bridge on; default: any
   * server of the application. Give the node of the calls to put in it
   * (a channel can only join a bridge of its own Asterisk).
   */
  readonly node?: string;
}

/** A session: a mixing bridge. */
export interface Session {
  readonly sessionId: string;
  /** The node (Asterisk entity id) the bridge lives on. */
  readonly node: string;
  readonly bridge: BridgeHandle;
}

/** Options of dial (OpenTok's SIP dial). */
export interface DialOptions {
  /** Caller id of the outbound call. */
  readonly callerId?: string;
  /** Seconds to wait for an answer (fractions rounded), or a Date. */
  readonly timeout?: Seconds;
  /** Channel variables of the outbound call. */
  readonly variables?: Readonly<Record<string, string>>;
  /** Milliseconds to wait until the call is answered and in the session (default: the client's timeout). */
  readonly joinTimeout?: number;
}

/** The call dial placed, in OpenTok's SipCall shape. */
export interface SipCall {
  /** The channel id. */
  readonly id: string;
  readonly connectionId: string;
  readonly streamId: string;
  readonly channel: ChannelHandle;
}

/** A stream: one channel of the session. */
export interface Stream {
  /** The channel id (also the connection id). */
  readonly id: string;
  readonly name: string;
  readonly state: string;
  readonly channel: M.Channel;
}

/** Options of forceMuteAll. */
export interface ForceMuteAllOptions {
  /** Streams to leave unmuted. */
  readonly excludedStreamIds?: readonly string[];
}

/** A signal: an ARI user event. */
export interface Signal {
  /** The user event name. */
  readonly type: string;
  /** Its payload, sent as the user event variable `data`. */
  readonly data?: string;
}

/** Options of startArchive. */
export interface ArchiveOptions {
  /** The recording name (default: one made up). */
  readonly name?: string;
  /** Format to record in (default "wav"). */
  readonly format?: string;
  /** Maximum duration in seconds (fractions rounded), or a Date. */
  readonly maxDuration?: Seconds;
}

/** An archive: a recording of a session, live or stored. */
export interface Archive {
  /** The recording name. */
  readonly id: string;
  readonly name: string;
  /** "started", "paused"... while live (ARI's live recording state); "stopped" once stored. */
  readonly status: string;
  readonly format: string;
  /** The session (bridge id) of a live archive; "" once stored (ARI forgets it). */
  readonly sessionId: string;
}

/** Options of listArchives. */
export interface ListArchivesOptions {
  readonly offset?: number;
  readonly count?: number;
}

/** Default format of startArchive. */
export const DEFAULT_ARCHIVE_FORMAT = "wav";

function id(name: string, v: unknown): string {
  if (typeof v !== "string" || v === "") throw new ArgumentError(`${name}: expected a non-empty string, not ${JSON.stringify(v)}`);
  return v;
}

function opts<T extends object>(name: string, v: T | undefined): T | Record<string, never> {
  if (v === undefined) return {};
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ArgumentError(`${name}: expected an options object`);
  return v;
}

/**
 * Rooms in OpenTok's shape, over ARI. See the SDK README for the table
 * of which ARI operations each method calls.
 */
export class Conference {
  /** @internal */
  constructor(private readonly client: AriProxy) {}

  private session(sessionId: string): BridgeHandle {
    return this.client.bridge(id("sessionId", sessionId));
  }

  private async members(sessionId: string): Promise<string[]> {
    const b = await this.session(sessionId).get();
    return b.channels ?? [];
  }

  private async member(sessionId: string, streamId: string): Promise<ChannelHandle> {
    id("streamId", streamId);
    if (!(await this.members(sessionId)).includes(streamId)) {
      throw new NotFoundError(`stream ${streamId} is not in session ${sessionId}`);
    }
    return this.client.channel(streamId);
  }

  /** Creates a session: a mixing bridge (ARI bridges.create, type mixing). */
  async createSession(options?: SessionOptions): Promise<Session> {
    const o = opts("options", options);
    const params = { type: "mixing", ...(o.name !== undefined ? { name: o.name } : {}) };
    if (o.node !== undefined) {
      // Pinned: create with an id on that node's server.
      const key = { kind: "bridge", id: o.sessionId !== undefined ? id("sessionId", o.sessionId) : newDialogID(), node: id("node", o.node) };
      await this.client.bridgeFromKey(key).createWithId(params);
      const bridge = this.client.bridgeFromKey(this.client.fillKey(key));
      return Object.freeze({ sessionId: bridge.id, node: bridge.node, bridge });
    }
    const bridge = await this.client.bridges.create({ ...params, ...(o.sessionId !== undefined ? { bridgeId: id("sessionId", o.sessionId) } : {}) });
    return Object.freeze({ sessionId: bridge.id, node: bridge.node, bridge });
  }

  /**
   * Calls `endpoint` ("PJSIP/alice", "Local/echo@default") into the
   * session: originates it into the application and, once it is in
   * Stasis, adds it to the bridge. Resolves when it is in the session.
   */
  async dial(sessionId: string, endpoint: string, options?: DialOptions): Promise<SipCall> {
    id("sessionId", sessionId);
    id("endpoint", endpoint);
    const o = opts("options", options);
    const bridge = await this.session(sessionId).get();
    const node = bridge.key?.node ?? "";
    // Watch the new channel through a dialog bound before it exists, so
    // that its StasisStart cannot be missed.
    const dialog = newDialogID();
    const c = (node ? this.client.withNode(node) : this.client).withDialog(dialog);
    const events = await c.dialogEvents(dialog, { types: ["StasisStart", "ChannelDestroyed"] });
    try {
      const channel = await c.channels.originate({
        endpoint,
        app: this.client.applicationName,
        appArgs: `conference,${sessionId}`,
        ...(o.callerId !== undefined ? { callerId: o.callerId } : {}),
        ...(o.timeout !== undefined ? { timeout: o.timeout } : {}),
        ...(o.variables !== undefined ? { variables: { ...o.variables } } : {}),
      });
      const wait = o.joinTimeout ?? this.client.options.timeout;
      for (;;) {
        const ev = await events.next({ timeout: wait }).catch((err) => {
          throw err instanceof TimeoutError ? new TimeoutError(`dial ${endpoint}: not answered within ${wait} ms`) : err;
        });
        if (ev.type === "ChannelDestroyed" && ev.channel.id === channel.id) {
          throw new NotFoundError(`dial ${endpoint}: the call ended before it was answered (${ev.cause_txt})`);
        }
        if (ev.type === "StasisStart" && ev.channel.id === channel.id) break;
      }
      await this.client.bridgeFromKey(bridge.key ?? { kind: "bridge", id: sessionId }).addChannel({ channel: channel.id });
      const ch = this.client.channelFromKey({ ...channel.key, dialog: "" });
      return Object.freeze({ id: channel.id, connectionId: channel.id, streamId: channel.id, channel: ch });
    } finally {
      await events.close();
      await c.unbindDialog(dialog).catch(() => {});
      await c.close();
    }
  }

  /** The streams of a session: its channels (ARI bridges.get, then channels.get for each). */
  async listStreams(sessionId: string): Promise<Stream[]> {
    const out: Stream[] = [];
    for (const chId of await this.members(sessionId)) {
      try {
        const ch = await this.client.channel(chId).get();
        out.push(Object.freeze({ id: ch.id, name: ch.name, state: ch.state, channel: ch }));
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err; // hung up meanwhile
      }
    }
    return out;
  }

  /** One stream of a session (NotFoundError when not in it). */
  async getStream(sessionId: string, streamId: string): Promise<Stream> {
    const ch = await (await this.member(sessionId, streamId)).get();
    return Object.freeze({ id: ch.id, name: ch.name, state: ch.state, channel: ch });
  }

  /** Disconnects a connection from the session: hangs its channel up (ARI channels.hangup). */
  async forceDisconnect(sessionId: string, connectionId: string): Promise<void> {
    await (await this.member(sessionId, connectionId)).hangup();
  }

  /** Mutes what one stream sends to the session (ARI channels.mute, direction in). */
  async forceMuteStream(sessionId: string, streamId: string): Promise<void> {
    await (await this.member(sessionId, streamId)).mute({ direction: "in" });
  }

  /** Mutes every stream of the session but the excluded ones (ARI channels.mute for each). */
  async forceMuteAll(sessionId: string, options?: ForceMuteAllOptions): Promise<void> {
    const o = opts("options", options);
    const excluded = new Set(o.excludedStreamIds ?? []);
    for (const chId of await this.members(sessionId)) {
      if (!excluded.has(chId)) await this.client.channel(chId).mute({ direction: "in" });
    }
  }

  /** Ends the muting of forceMuteAll and forceMuteStream (ARI channels.unmute for each stream). */
  async disableForceMute(sessionId: string): Promise<void> {
    for (const chId of await this.members(sessionId)) await this.client.channel(chId).unmute({ direction: "in" });
  }

  /**
   * Sends a signal to the session, or to one connection of it when
   * `connectionId` is given: an ARI user event (events.userEvent) named
   * `type` with the variable `data`, whose source is the bridge or the
   * channel; subscribers see a ChannelUserevent.
   */
  async signal(sessionId: string, connectionId: string | null, signal: Signal): Promise<void> {
    id("sessionId", sessionId);
    const s = opts("signal", signal) as Signal;
    id("signal.type", s.type);
    if (s.data !== undefined && typeof s.data !== "string") throw new ArgumentError("signal.data: expected a string");
    const source = connectionId === null || connectionId === undefined ? `bridge:${sessionId}` : `channel:${(await this.member(sessionId, connectionId)).id}`;
    await this.client.events.userEvent({
      eventName: s.type,
      application: this.client.applicationName,
      source: [source],
      variables: { data: s.data ?? "" },
    });
  }

  /** Starts recording the session (ARI bridges.record). */
  async startArchive(sessionId: string, options?: ArchiveOptions): Promise<Archive> {
    const o = opts("options", options);
    const name = o.name ?? `archive-${sessionId}-${Date.now().toString(36)}`;
    const format = o.format ?? DEFAULT_ARCHIVE_FORMAT;
    const rec = await this.session(sessionId).record({
      name: id("name", name),
      format: id("format", format),
      ...(o.maxDuration !== undefined ? { maxDurationSeconds: o.maxDuration } : {}),
    });
    return Object.freeze({ id: rec.id, name: rec.id, status: "started", format, sessionId });
  }

  /** Stops a live archive; it becomes a stored recording (ARI recordings.stop). */
  async stopArchive(archiveId: string): Promise<Archive> {
    const live = this.client.liveRecording(id("archiveId", archiveId));
    const before = await live.getLive();
    await live.stop();
    return Object.freeze({ id: before.name, name: before.name, status: "stopped", format: before.format, sessionId: targetSession(before.target_uri) });
  }

  /** An archive, live (ARI recordings.getLive) or stored (recordings.getStored). */
  async getArchive(archiveId: string): Promise<Archive> {
    id("archiveId", archiveId);
    try {
      const r = await this.client.liveRecording(archiveId).getLive();
      return Object.freeze({ id: r.name, name: r.name, status: r.state, format: r.format, sessionId: targetSession(r.target_uri) });
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    const s = await this.client.storedRecording(archiveId).getStored();
    return Object.freeze({ id: s.name, name: s.name, status: "stopped", format: s.format, sessionId: "" });
  }

  /** The stored archives, `count` of them from `offset` (ARI recordings.listStored). */
  async listArchives(options?: ListArchivesOptions): Promise<{ count: number; items: Archive[] }> {
    const o = opts("options", options);
    const offset = o.offset ?? 0;
    const count = o.count ?? 50;
    if (!Number.isInteger(offset) || offset < 0) throw new ArgumentError("offset: expected a non-negative integer");
    if (!Number.isInteger(count) || count < 1) throw new ArgumentError("count: expected a positive integer");
    const all = await this.client.recordings.listStored();
    const sorted = [...all].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const items: Archive[] = [];
    for (const h of sorted.slice(offset, offset + count)) {
      let format = "";
      try {
        format = (await h.getStored()).format;
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err; // deleted meanwhile
        continue;
      }
      items.push(Object.freeze({ id: h.id, name: h.id, status: "stopped", format, sessionId: "" }));
    }
    return { count: sorted.length, items };
  }

  /** Deletes a stored archive (ARI recordings.deleteStored). */
  async deleteArchive(archiveId: string): Promise<void> {
    await this.client.storedRecording(id("archiveId", archiveId)).deleteStored();
  }
}

function targetSession(uri: string | undefined): string {
  return uri?.startsWith("bridge:") ? uri.slice("bridge:".length) : "";
}
