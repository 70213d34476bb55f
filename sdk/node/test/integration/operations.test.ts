// Every generated method, called against the Go stack (proxy servers and
// simulated Asterisk behind the bus): each must reach Asterisk and get
// its answer, a success or an error Asterisk gives in that state. The
// cases are those of the Go client's TestEveryOperation.

import { test } from "node:test";
import assert from "node:assert/strict";
import { AriProxyError, METHODS, type AriProxy, type BridgeHandle, type ChannelHandle, type Key, type LiveRecordingHandle } from "@ariproxy/sdk";
import { client, newID, withStack } from "./stack.js";

type P = Record<string, unknown>;
interface Case {
  key?: (f: Fixture) => Promise<Key> | Key;
  params?: (f: Fixture) => Promise<P> | P;
  allow?: number[];
}

class Fixture {
  shared?: ChannelHandle;
  bridge?: BridgeHandle;
  lastKey: Key = {};
  lastParams: P = {};
  constructor(readonly c: AriProxy) {}

  // A channel in Stasis: originated into the application, its StasisStart seen.
  async originate(prefix: string): Promise<ChannelHandle> {
    const id = newID(prefix);
    const sub = await this.c.subscribe({ types: ["StasisStart"] });
    try {
      const ch = await this.c.channels.originate({ endpoint: "Local/echo@default", app: this.c.applicationName, channelId: id });
      for (;;) {
        const ev = await sub.next({ type: "StasisStart", timeout: 5000 });
        if (ev.channel.id === id) return ch;
      }
    } finally {
      await sub.close();
    }
  }
  async channel(): Promise<ChannelHandle> {
    this.shared ??= await this.originate("shared");
    return this.shared;
  }
  fresh(): Promise<ChannelHandle> {
    return this.originate("ch");
  }
  freshBridge(): Promise<BridgeHandle> {
    return this.c.bridges.create({ type: "mixing", bridgeId: newID("br") });
  }
  async sharedBridge(): Promise<BridgeHandle> {
    if (!this.bridge) {
      this.bridge = await this.freshBridge();
      await this.bridge.addChannel({ channel: (await this.channel()).id });
    }
    return this.bridge;
  }
  async playback(): Promise<Key> {
    return (await (await this.fresh()).play({ media: "sound:silence/10", playbackId: newID("pb") })).key;
  }
  async liveRecording(): Promise<LiveRecordingHandle> {
    return (await this.fresh()).record({ name: newID("rec"), format: "wav", ifExists: "overwrite" });
  }
  async storedRecording(): Promise<Key> {
    const r = await this.liveRecording();
    await r.stop();
    return this.c.storedRecording(r.id).key;
  }
  async logChannel(): Promise<Key> {
    const l = await this.c.logging(newID("log")).addLog({ configuration: "notice" });
    return l.key;
  }
  async deviceState(): Promise<Key> {
    const d = this.c.deviceState("Stasis:" + newID("dev"));
    await d.update({ deviceState: "INUSE" });
    return d.key;
  }
  async mailbox(): Promise<Key> {
    const m = this.c.mailbox(newID("mb") + "@default");
    await m.update({ oldMessages: 1, newMessages: 2 });
    return m.key;
  }
}

function cases(app: string): Record<string, Case> {
  const ch = async (f: Fixture) => (await f.channel()).key;
  const freshCh = async (f: Fixture) => (await f.fresh()).key;
  const br = async (f: Fixture) => (await f.sharedBridge()).key;
  const freshBr = async (f: Fixture) => (await f.freshBridge()).key;
  const p = (x: P) => () => x;
  const newKey = (kind: string, prefix: string) => (f: Fixture) => f.c.fillKey({ kind, id: newID(prefix) });
  const pjsip = (f: Fixture) => f.c.config("res_pjsip", "endpoint", "alice").key;
  const module = (name: string) => (f: Fixture) => f.c.module(name).key;
  const endpoint = (f: Fixture) => f.c.endpoint("PJSIP", "alice").key;
  return {
    "asterisk.getObject": { key: pjsip, allow: [404] },
    "asterisk.updateObject": { key: pjsip, params: p({ fields: [{ attribute: "allow", value: "ulaw" }] }), allow: [403, 404] },
    "asterisk.deleteObject": { key: pjsip, allow: [403, 404] },
    "asterisk.getInfo": { params: p({ only: ["build", "system"] }) },
    "asterisk.ping": {},
    "asterisk.listModules": {},
    "asterisk.getModule": { key: module("res_ari.so") },
    "asterisk.loadModule": { key: module("res_musiconhold.so"), allow: [409] },
    "asterisk.unloadModule": { key: module("res_adsi.so"), allow: [404, 409] },
    "asterisk.reloadModule": { key: module("res_musiconhold.so") },
    "asterisk.listLogChannels": {},
    "asterisk.addLog": { key: newKey("logging", "log"), params: p({ configuration: "notice" }) },
    "asterisk.deleteLog": { key: (f) => f.logChannel(), allow: [404] },
    "asterisk.rotateLog": { key: (f) => f.logChannel() },
    "asterisk.getGlobalVar": {
      params: async (f) => {
        await f.c.asterisk.setGlobalVar({ variable: "GV", value: "7" });
        return { variable: "GV" };
      },
    },
    "asterisk.setGlobalVar": { params: p({ variable: "GV2", value: "x" }) },

    "endpoints.list": {},
    "endpoints.sendMessage": { params: p({ to: "pjsip:alice", from: "sip:demo", body: "hi" }), allow: [400, 404] },
    "endpoints.refer": { params: p({ to: "pjsip:alice", from: "sip:demo", refer_to: "sip:bob" }), allow: [400, 404] },
    "endpoints.listByTech": { params: p({ tech: "Local" }), allow: [404] },
    "endpoints.get": { key: endpoint, allow: [404] },
    "endpoints.sendMessageToEndpoint": { key: endpoint, params: p({ from: "sip:demo", body: "hi" }), allow: [400, 404] },
    "endpoints.referToEndpoint": { key: endpoint, params: p({ from: "sip:demo", refer_to: "sip:bob" }), allow: [400, 404] },

    "channels.list": {},
    "channels.originate": { params: () => ({ endpoint: "Local/echo@default", app, channelId: newID("orig") }) },
    "channels.create": { params: () => ({ endpoint: "Local/echo@default", app, channelId: newID("create") }) },
    "channels.get": { key: ch },
    "channels.originateWithId": { key: newKey("channel", "origid"), params: p({ endpoint: "Local/echo@default", app }) },
    "channels.hangup": { key: freshCh, params: p({ reason: "normal" }) },
    "channels.continueInDialplan": { key: freshCh, params: p({ context: "default", extension: "echo", priority: 1 }) },
    "channels.move": { key: freshCh, params: p({ app: "other" }) },
    "channels.redirect": { key: freshCh, params: p({ endpoint: "Local/echo@default" }), allow: [422] },
    "channels.answer": { key: ch },
    "channels.ring": { key: ch },
    "channels.ringStop": { key: ch },
    "channels.progress": { key: ch },
    "channels.sendDTMF": { key: ch, params: p({ dtmf: "1#", between: 50 }) },
    "channels.mute": { key: ch, params: p({ direction: "both" }) },
    "channels.unmute": { key: ch, params: p({ direction: "both" }) },
    "channels.hold": { key: ch },
    "channels.unhold": { key: ch },
    "channels.startMoh": { key: ch, params: p({ mohClass: "default" }) },
    "channels.stopMoh": { key: ch },
    "channels.startSilence": { key: ch },
    "channels.stopSilence": { key: ch },
    "channels.play": { key: ch, params: () => ({ media: ["sound:beep"], playbackId: newID("pb") }) },
    "channels.playWithId": { key: ch, params: () => ({ media: ["sound:beep"] , playbackId: newID("pb") }) },
    "channels.record": { key: freshCh, params: () => ({ name: newID("rec"), format: "wav" }) },
    "channels.getChannelVar": {
      key: async (f) => {
        const h = await f.channel();
        await h.setChannelVar({ variable: "FOO", value: "bar" });
        return h.key;
      },
      params: p({ variable: "FOO" }),
    },
    "channels.setChannelVar": { key: ch, params: p({ variable: "FOO", value: "bar" }) },
    "channels.getChannelVars": { key: ch, params: p({ variables: "FOO" }) },
    "channels.setChannelVars": { key: ch, params: p({ variables: { A: "1", B: "2" } }) },
    "channels.snoopChannel": { key: ch, params: () => ({ app, spy: "in", snoopId: newID("snoop") }) },
    "channels.snoopChannelWithId": { key: ch, params: () => ({ app, spy: "both", snoopId: newID("snoop") }) },
    "channels.dial": {
      key: async (f) => {
        const id = newID("dial");
        const sub = await f.c.subscribe({ types: ["StasisStart"] });
        const h = await f.c.channels.create({ endpoint: "Local/echo@default", app, channelId: id });
        while ((await sub.next({ type: "StasisStart", timeout: 5000 })).channel.id !== id);
        await sub.close();
        return h.key;
      },
      params: p({ timeout: 10 }),
    },
    "channels.rtpstatistics": { key: ch, allow: [403, 404] },
    "channels.externalMedia": { params: () => ({ app, external_host: "127.0.0.1:40002", format: "ulaw", channelId: newID("em") }) },
    "channels.transfer_progress": { key: ch, params: p({ states: "channel_progress" }), allow: [400, 404, 409, 422, 501] },

    "bridges.list": {},
    "bridges.create": { params: () => ({ type: "mixing", bridgeId: newID("br"), name: "conf" }) },
    "bridges.createWithId": { key: newKey("bridge", "brid"), params: p({ type: "mixing" }) },
    "bridges.get": { key: br },
    "bridges.destroy": { key: freshBr },
    "bridges.getBridgeVar": {
      key: async (f) => {
        const b = await f.sharedBridge();
        await b.setBridgeVar({ variable: "BV", value: "1" });
        return b.key;
      },
      params: p({ variable: "BV" }),
    },
    "bridges.setBridgeVar": { key: br, params: p({ variable: "BV", value: "1" }) },
    "bridges.getBridgeVars": { key: br, params: p({ variables: "BV" }) },
    "bridges.setBridgeVars": { key: br, params: p({ variables: { X: "1" } }) },
    "bridges.addChannel": { key: freshBr, params: async (f) => ({ channel: [(await f.fresh()).id], role: "participant" }) },
    "bridges.removeChannel": {
      key: async (f) => {
        const b = await f.freshBridge();
        await b.addChannel({ channel: [(await f.fresh()).id] });
        return b.key;
      },
      params: async (f) => ({ channel: (await f.c.bridgeFromKey(f.lastKey).get()).channels }),
    },
    "bridges.setVideoSource": { key: br, params: async (f) => ({ channelId: (await f.channel()).id }), allow: [422] },
    "bridges.clearVideoSource": { key: br },
    "bridges.startMoh": { key: freshBr, params: p({ mohClass: "default" }) },
    "bridges.stopMoh": {
      key: async (f) => {
        const b = await f.freshBridge();
        await b.startMoh();
        return b.key;
      },
    },
    "bridges.play": { key: br, params: () => ({ media: ["sound:beep"], playbackId: newID("bpb") }) },
    "bridges.playWithId": { key: br, params: () => ({ media: ["sound:beep"], playbackId: newID("bpb") }) },
    "bridges.record": { key: br, params: () => ({ name: newID("brec"), format: "wav" }) },

    "recordings.listStored": {},
    "recordings.getStored": { key: (f) => f.storedRecording() },
    "recordings.deleteStored": { key: (f) => f.storedRecording() },
    "recordings.getStoredFile": { key: (f) => f.storedRecording() },
    "recordings.copyStored": { key: (f) => f.storedRecording(), params: () => ({ destinationRecordingName: newID("copy") }) },
    "recordings.getLive": { key: async (f) => (await f.liveRecording()).key },
    "recordings.cancel": { key: async (f) => (await f.liveRecording()).key },
    "recordings.stop": { key: async (f) => (await f.liveRecording()).key },
    "recordings.pause": { key: async (f) => (await f.liveRecording()).key },
    "recordings.unpause": {
      key: async (f) => {
        const r = await f.liveRecording();
        await r.pause();
        return r.key;
      },
    },
    "recordings.mute": { key: async (f) => (await f.liveRecording()).key },
    "recordings.unmute": {
      key: async (f) => {
        const r = await f.liveRecording();
        await r.mute();
        return r.key;
      },
    },

    "sounds.list": { params: p({ lang: "en" }) },
    "sounds.get": { key: (f) => f.c.sound("beep").key },

    "playbacks.get": { key: (f) => f.playback() },
    "playbacks.stop": { key: (f) => f.playback() },
    "playbacks.control": { key: (f) => f.playback(), params: p({ operation: "pause" }) },

    "deviceStates.list": {},
    "deviceStates.get": { key: (f) => f.deviceState() },
    "deviceStates.update": { key: (f) => f.c.deviceState("Stasis:" + newID("dev")).key, params: p({ deviceState: "BUSY" }) },
    "deviceStates.delete": { key: (f) => f.deviceState() },

    "mailboxes.list": {},
    "mailboxes.get": { key: (f) => f.mailbox() },
    "mailboxes.update": { key: (f) => f.c.mailbox(newID("mb") + "@default").key, params: p({ oldMessages: 3, newMessages: 4 }) },
    "mailboxes.delete": { key: (f) => f.mailbox() },

    "events.userEvent": {
      params: async (f) => ({ eventName: "custom", application: app, source: ["channel:" + (await f.channel()).id], variables: { k: "v" } }),
    },
    "events.claimChannel": { params: async (f) => ({ channelId: (await f.channel()).id, application: app }), allow: [404, 409, 422] },

    "applications.list": {},
    "applications.get": { key: (f) => f.c.application(app).key },
    "applications.subscribe": {
      key: (f) => f.c.application(app).key,
      params: async (f) => ({ eventSource: ["deviceState:" + (await f.deviceState()).id] }),
    },
    "applications.unsubscribe": {
      key: async (f) => {
        const a = f.c.application(app);
        const d = await f.deviceState();
        f.lastParams = { eventSource: ["deviceState:" + d.id] };
        await a.subscribe({ eventSource: ["deviceState:" + d.id] });
        return a.key;
      },
      params: (f) => f.lastParams,
    },
    "applications.filter": { key: (f) => f.c.application(app).key, params: p({ filter: { allowed: [{ type: "StasisStart" }] } }) },
  };
}

test("every SDK method reaches Asterisk through the proxy", async (t) => {
  const s = await withStack(t);
  if (!s) return;
  const c = await client(s, { node: s.nodes[0] });
  t.after(() => c.close());
  const f = new Fixture(c);
  const table = cases(s.application);
  const refused: string[] = [];
  for (const row of METHODS) {
    await t.test(row.op, async () => {
      const tc = table[row.op];
      assert.ok(tc, `no test case for ${row.op}`);
      const key = tc.key ? await tc.key(f) : {};
      f.lastKey = key;
      const params = tc.params ? await tc.params(f) : undefined;
      const target =
        row.on === "handle"
          ? (c as unknown as Record<string, (k: Key) => unknown>)[row.fromKey as string]?.call(c, key)
          : (c as unknown as Record<string, unknown>)[row.target];
      const method = (target as Record<string, (p?: P) => Promise<unknown>>)[row.method];
      assert.equal(typeof method, "function", `${row.op}: ${row.target}.${row.method}`);
      try {
        const res = await method!.call(target, params);
        if (row.returns !== "void") assert.notEqual(res, undefined, `${row.op}: no result`);
      } catch (err) {
        assert.ok(err instanceof AriProxyError, `${row.op}: ${String(err)}`);
        assert.ok(err.status, `${row.op}: no answer from Asterisk: ${err.message}`);
        assert.ok(tc.allow?.includes(err.status), `${row.op}: ARI ${err.status}: ${err.message}`);
        refused.push(row.op);
      }
    });
  }
  // applications.filter left the application seeing StasisStart only.
  await c.application(s.application).filter({ filter: {} });
  for (const op of Object.keys(table)) assert.ok(METHODS.some((m) => m.op === op), `case for unknown operation ${op}`);
  t.diagnostic(`${METHODS.length} methods called; answered with an allowed ARI error: ${refused.join(", ")}`);
});
