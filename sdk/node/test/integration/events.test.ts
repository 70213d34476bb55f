// Events: per application and per resource, as an EventEmitter and as an
// async iterator; listen() across three instances; routing and
// scatter-gather across the two nodes of the stack.

import { test } from "node:test";
import assert from "node:assert/strict";
import { NotFoundError, type AriEvent, type ChannelHandle, type StasisStart } from "@ariproxy/sdk";
import { client, newID, placeCall, withStack } from "./stack.js";

test("application events: EventEmitter and async iterator", async (t) => {
  const s = await withStack(t);
  if (!s) return;
  const c = await client(s);
  t.after(() => c.close());
  const sub = await c.subscribe();
  const byType: string[] = [];
  const every: AriEvent[] = [];
  sub.on("event", (ev) => every.push(ev));
  const started = new Promise<StasisStart>((resolve) => sub.once("StasisStart", (ev) => resolve(ev)));
  sub.on("StasisEnd", (ev) => byType.push(ev.channel.id));

  const call = await placeCall(s, 1);
  const ss = await started;
  assert.equal(ss.channel.id, call.channel);
  assert.equal(ss.asterisk_id, call.node);
  assert.equal(ss.application, s.application);

  // The iterator sees the same events, in order, from the start.
  const seen: string[] = [];
  const ch = c.channelFromKey({ id: call.channel, node: call.node });
  await ch.hangup();
  for await (const ev of sub) {
    seen.push(ev.type);
    // After StasisEnd the channel has left the application (Asterisk sends
    // it nothing more, not even ChannelDestroyed).
    if (ev.type === "StasisEnd" && ev.channel.id === call.channel) break;
  }
  assert.equal(seen[0], "StasisStart");
  assert.ok(seen.includes("ChannelHangupRequest"), seen.join(","));
  assert.ok(byType.includes(call.channel));
  assert.ok(every.length >= seen.length);
  await sub.close();
  assert.equal(sub.closed, true);
  await assert.rejects(sub.next(), { name: "ClosedError" });
});

test("resource events: only the channel's own, through a dialog, until closed", async (t) => {
  const s = await withStack(t);
  if (!s) return;
  const c = await client(s);
  t.after(() => c.close());
  const a = await placeCall(s, 1);
  const b = await placeCall(s, 2);
  const chA = c.channel(a.channel); // partial key: the servers find it
  const sub = await chA.subscribe({ types: ["PlaybackStarted", "PlaybackFinished", "StasisEnd"] });
  assert.ok(sub.dialog);
  const iter = sub[Symbol.asyncIterator]();

  const other = await c.channel(b.channel).play({ media: "sound:beep" });
  const pb = await chA.play({ media: "sound:beep" });
  assert.equal(pb.node, a.node, "the play went to the node that has the channel");
  const first = (await iter.next()).value as AriEvent;
  assert.equal(first.type, "PlaybackStarted");
  assert.equal((first as { playback: { id: string } }).playback.id, pb.id);
  const fin = await sub.next({ type: "PlaybackFinished", timeout: 5000 });
  assert.equal(fin.playback.id, pb.id);
  assert.notEqual(fin.playback.id, other.id);

  // Per-playback subscription with the emitter.
  const pb2 = await chA.play({ media: "sound:silence/2" });
  const psub = await pb2.subscribe();
  const done = new Promise<string>((resolve) => psub.on("PlaybackFinished", (ev) => resolve(ev.playback.id)));
  await pb2.stop();
  assert.equal(await done, pb2.id);
  await psub.close();

  await chA.hangup();
  const end = await sub.next({ type: "StasisEnd", timeout: 5000 });
  assert.equal(end.channel.id, a.channel);
  await sub.close();
  await c.channel(b.channel).hangup();
});

test("listen hands each new call to exactly one of three instances", async (t) => {
  const s = await withStack(t);
  if (!s) return;
  const clients = await Promise.all([client(s), client(s), client(s)]);
  t.after(() => Promise.all(clients.map((c) => c.close())));
  const got = new Map<string, number[]>();
  const handled: Promise<void>[] = [];
  const listeners = await Promise.all(
    clients.map((c, i) =>
      c.listen(async (ch: ChannelHandle, ev: StasisStart) => {
        got.set(ch.id, [...(got.get(ch.id) ?? []), i]);
        assert.equal(ev.channel.id, ch.id);
        assert.equal(ch.node, ev.asterisk_id);
        const p = (async () => {
          await ch.answer();
          await ch.hangup();
        })();
        handled.push(p);
        await p;
      }),
    ),
  );
  const n = 12;
  const placed: string[] = [];
  for (let i = 0; i < n; i++) placed.push((await placeCall(s, 1 + (i % Math.max(1, s.nodes.length || 1)))).channel);
  const deadline = Date.now() + 10_000;
  while (got.size < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await Promise.all(handled);
  assert.deepEqual([...got.keys()].sort(), [...placed].sort(), "every call handled");
  for (const [id, who] of got) assert.equal(who.length, 1, `call ${id} went to ${who.length} instances`);
  const per = listeners.map((l) => l.calls);
  assert.equal(per.reduce((a, b) => a + b, 0), n);
  t.diagnostic(`calls per instance: ${per.join(", ")}`);
  await Promise.all(listeners.map((l) => l.close()));
});

test("routing: partial keys reach the node that has the entity; lists merge every node", async (t) => {
  const s = await withStack(t);
  if (!s) return;
  if (s.nodes.length < 2) return t.skip("the stack has one node");
  const c = await client(s);
  t.after(() => c.close());
  assert.deepEqual(c.servers(), [...s.nodes].sort());
  const a = await placeCall(s, 1);
  const b = await placeCall(s, 2);
  // Scatter-gather: the servers without the channel answer not found, the
  // one with it wins.
  const da = await c.channel(a.channel).get();
  const db = await c.channel(b.channel).get();
  assert.equal(da.key?.node, a.node);
  assert.equal(db.key?.node, b.node);
  const ids = (await c.channels.list()).map((h) => h.id);
  assert.ok(ids.includes(a.channel) && ids.includes(b.channel), "the list merges both nodes");
  // Not found everywhere is a NotFoundError.
  await assert.rejects(c.channel(newID("none")).get(), NotFoundError);
  // Pinned to the other node: not found there.
  await assert.rejects(c.withNode(b.node).channel(a.channel).get(), NotFoundError);
  // Creates go to one server (the queue group) or to the pinned node.
  const br = await c.withNode(b.node).bridges.create({ type: "mixing" });
  assert.equal(br.node, b.node);
  await br.destroy();
  await c.channel(a.channel).hangup();
  await c.channel(b.channel).hangup();
});
