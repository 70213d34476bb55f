// The OpenTok-shaped conference layer against the Go stack.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ArgumentError, NotFoundError, type ChannelUserevent } from "@ariproxy/sdk";
import { client, newID, withStack } from "./stack.js";

test("conference: sessions, dial, streams, mute, signal, archives, disconnect", async (t) => {
  const s = await withStack(t);
  if (!s) return;
  const c = await client(s);
  t.after(() => c.close());
  const conf = c.conference;

  const options = Object.freeze({ name: "room 1" });
  const session = await conf.createSession(options);
  assert.ok(session.sessionId);
  assert.ok(s.nodes.length === 0 || s.nodes.includes(session.node));
  assert.deepEqual(options, { name: "room 1" }, "options untouched");
  const br = await session.bridge.get();
  assert.equal(br.bridge_type, "mixing");
  assert.equal(br.name, "room 1");

  const a = await conf.dial(session.sessionId, "Local/echo@default", { callerId: "Alice <100>", timeout: 9.6 });
  const b = await conf.dial(session.sessionId, "Local/echo@default");
  assert.equal(a.connectionId, a.id);
  assert.equal(a.channel.node, session.node, "the call is on the bridge's node");

  const streams = await conf.listStreams(session.sessionId);
  assert.deepEqual(streams.map((x) => x.id).sort(), [a.id, b.id].sort());
  const one = await conf.getStream(session.sessionId, a.streamId);
  assert.equal(one.id, a.id);
  assert.equal(one.state, "Up");
  await assert.rejects(conf.getStream(session.sessionId, "nope"), NotFoundError);

  await conf.forceMuteStream(session.sessionId, a.streamId);
  await conf.forceMuteAll(session.sessionId, { excludedStreamIds: [a.streamId] });
  await conf.disableForceMute(session.sessionId);

  // Signals are user events: to the whole session, or to one connection.
  const sub = await c.subscribe({ types: ["ChannelUserevent"] });
  await conf.signal(session.sessionId, null, { type: "chat", data: "hello all" });
  await conf.signal(session.sessionId, b.connectionId, { type: "chat", data: "hello b" });
  const s1 = (await sub.next({ type: "ChannelUserevent", timeout: 5000 })) as ChannelUserevent;
  const s2 = (await sub.next({ type: "ChannelUserevent", timeout: 5000 })) as ChannelUserevent;
  assert.equal(s1.eventname, "chat");
  assert.equal((s1.userevent as Record<string, unknown>).data, "hello all");
  assert.equal(s1.bridge?.id, session.sessionId);
  assert.equal(s2.channel?.id, b.id);
  await sub.close();
  await assert.rejects(conf.signal(session.sessionId, null, { type: "" }), ArgumentError);

  // Archives: a recording of the bridge, stored once stopped.
  const name = newID("arch");
  const archive = await conf.startArchive(session.sessionId, { name, format: "wav", maxDuration: 30 });
  assert.equal(archive.id, name);
  assert.equal(archive.sessionId, session.sessionId);
  const live = await conf.getArchive(name);
  assert.equal(live.sessionId, session.sessionId);
  assert.equal(live.format, "wav");
  const stopped = await conf.stopArchive(name);
  assert.equal(stopped.status, "stopped");
  const stored = await conf.getArchive(name);
  assert.equal(stored.status, "stopped");
  const list = await conf.listArchives({ offset: 0, count: 1000 });
  assert.ok(list.items.some((x) => x.id === name));
  assert.ok(list.count >= list.items.length);
  const page = await conf.listArchives({ offset: 0, count: 1 });
  assert.equal(page.items.length, 1);
  await conf.deleteArchive(name);
  await assert.rejects(conf.getArchive(name), NotFoundError);

  await conf.forceDisconnect(session.sessionId, a.connectionId);
  const deadline = Date.now() + 5000;
  while ((await conf.listStreams(session.sessionId)).some((x) => x.id === a.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual((await conf.listStreams(session.sessionId)).map((x) => x.id), [b.id]);
  await assert.rejects(conf.forceDisconnect(session.sessionId, a.connectionId), NotFoundError);

  await b.channel.hangup();
  await session.bridge.destroy();
  await assert.rejects(conf.listStreams(session.sessionId), NotFoundError);
});
