// Faults: fake servers on the stack's NATS (a prefix of their own) answer
// what real servers must not: replies that break the schema, v5 text-only
// errors, silence, nobody at all. Each must give its error class, and a
// request must never hang or resolve with a strange value.

import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { AriProxy, ConflictError, InternalError, NotFoundError, NotImplementedError, TimeoutError, UnavailableError } from "@ariproxy/sdk";
import { newID, withStack, type Stack } from "./stack.js";

interface Fake {
  nc: NatsConnection;
  prefix: string;
  requests: string[];
}

async function fake(url: string, node: string, answer: (subject: string, req: Record<string, unknown>) => string | undefined): Promise<Fake> {
  const nc = await connect({ servers: url });
  const prefix = newID("fault") + ".";
  const f: Fake = { nc, prefix, requests: [] };
  const serve = (subject: string) =>
    nc.subscribe(subject, {
      callback: (_err, m) => {
        const req = JSON.parse(m.string()) as Record<string, unknown>;
        f.requests.push(`${m.subject} ${String(req.kind)}`);
        const a = answer(m.subject, req);
        if (a !== undefined && m.reply) nc.publish(m.reply, a);
      },
    });
  serve(`${prefix}*.app.>`); // node level
  serve(`${prefix}*.app`); // application level
  nc.subscribe(`${prefix}ping`, { callback: () => nc.publish(`${prefix}announce`, JSON.stringify({ node, application: "app" })) });
  await nc.flush();
  return f;
}

// The fakes are raw NATS clients: on another bus these tests skip (the
// Go test runs them on NATS only).
async function natsStack(t: { skip(msg: string): void }): Promise<Stack | undefined> {
  const s = await withStack(t);
  if (s && !/^(nats|tls):/.test(s.url)) {
    t.skip(`the fake servers need NATS, not ${new URL(s.url).protocol}//`);
    return undefined;
  }
  return s;
}

test("replies that break docs/schema/response.json are InternalErrors that say so", async (t) => {
  const s = await natsStack(t);
  if (!s) return;
  const f = await fake(s.url, "n1", () => JSON.stringify({ error: 5, data: "not an object" }));
  const c = new AriProxy({ url: s.url, application: "app", prefix: f.prefix, timeout: 2000 });
  t.after(async () => {
    await c.close();
    await f.nc.close();
  });
  await assert.rejects(c.channelFromKey({ id: "c1", node: "n1" }).get(), (err: unknown) => err instanceof InternalError && /docs\/schema\/response\.json/.test(err.message));
  const g = await fake(s.url, "n2", () => "{not json");
  t.after(() => g.nc.close());
  const c2 = new AriProxy({ url: s.url, application: "app", prefix: g.prefix, timeout: 2000 });
  t.after(() => c2.close());
  await assert.rejects(c2.channelFromKey({ id: "c1", node: "n2" }).get(), InternalError);
});

test("v5 servers: text-only errors map onto the classes; generic kinds are not implemented", async (t) => {
  const s = await natsStack(t);
  if (!s) return;
  const f = await fake(s.url, "v5", (_subj, req) => {
    if (req.kind === "ChannelData") return JSON.stringify({ error: "failed to get data: Error getting data for channel 'x': Non-2XX response: 404 Not Found" });
    if (req.kind === "ChannelAnswer") return JSON.stringify({ error: "Non-2XX response: 409 Conflict" });
    return JSON.stringify({ error: "Not implemented" });
  });
  const c = new AriProxy({ url: s.url, application: "app", prefix: f.prefix, timeout: 2000 });
  t.after(async () => {
    await c.close();
    await f.nc.close();
  });
  const ch = c.channelFromKey({ id: "x", node: "v5" });
  await assert.rejects(ch.get(), (err: unknown) => err instanceof NotFoundError && err.status === 404);
  await assert.rejects(ch.answer(), (err: unknown) => err instanceof ConflictError && err.status === 409);
  await assert.rejects(ch.rtpstatistics(), NotImplementedError);
  assert.ok(f.requests.some((r) => r.endsWith("ChannelData")), "the v5 kind is sent where v5 has one");
});

test("no server: UnavailableError at once; a silent server: TimeoutError, and it is forgotten", async (t) => {
  const s = await natsStack(t);
  if (!s) return;
  const nobody = new AriProxy({ url: s.url, application: "app", prefix: newID("empty") + ".", timeout: 3000 });
  t.after(() => nobody.close());
  const start = Date.now();
  await assert.rejects(nobody.channelFromKey({ id: "x", node: "n" }).get(), UnavailableError);
  await assert.rejects(nobody.bridges.create({ type: "mixing" }), UnavailableError);
  assert.ok(Date.now() - start < 2500, "no responders is known at once, not at the timeout");

  // One server answers, one is silent: a request to every server times
  // out waiting for it, then the silent one is forgotten.
  const live = await fake(s.url, "live", (subj) => (subj.endsWith(".live") || !subj.includes(".app.") ? JSON.stringify({ error: "Non-2XX response: 404 Not Found", error_code: "not_found", ari_status: 404, node: "live" }) : undefined));
  const silent = await connect({ servers: s.url });
  silent.subscribe(`${live.prefix}ping`, { callback: () => silent.publish(`${live.prefix}announce`, JSON.stringify({ node: "silent", application: "app" })) });
  await silent.flush();
  const c = new AriProxy({ url: s.url, application: "app", prefix: live.prefix, timeout: 800 });
  t.after(async () => {
    await c.close();
    await live.nc.close();
    await silent.close();
  });
  await c.ready();
  assert.deepEqual(c.servers(), ["live", "silent"]);
  // "not found" from the live one, nothing from the other: not found after the timeout.
  await assert.rejects(c.channel("x").get(), NotFoundError);
  assert.deepEqual(c.servers(), ["live"], "the silent server is forgotten");
  // A server that answers nothing at all: a TimeoutError.
  const mute = await fake(s.url, "mute", () => undefined);
  const m = new AriProxy({ url: s.url, application: "app", prefix: mute.prefix, timeout: 500 });
  t.after(async () => {
    await m.close();
    await mute.nc.close();
  });
  await assert.rejects(m.channelFromKey({ id: "x", node: "mute" }).get(), TimeoutError);
});
