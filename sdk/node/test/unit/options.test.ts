import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AriProxy,
  ArgumentError,
  BadRequestError,
  NotImplementedError,
  DEFAULT_TIMEOUT,
  DEFAULT_URL,
  DEFAULT_DISCOVERY_WAIT,
  DEFAULT_SERVER_TTL,
  DEFAULT_EVENT_BUFFER,
  DEFAULT_ARCHIVE_FORMAT,
  toSeconds,
} from "@ariproxy/sdk";

// A bus nobody listens on: constructing never waits for it.
const url = "nats://127.0.0.1:1";

test("invalid arguments throw at once, as ArgumentErrors", () => {
  const bad: unknown[] = [
    "nats://x",
    [],
    { url, application: "" },
    { url, application: "a.b" },
    { url, application: "a b" },
    { url, application: 7 },
    { url: "http://x", application: "a" },
    { url: "not a url", application: "a" },
    { url, application: "a", timeout: 0 },
    { url, application: "a", timeout: -1 },
    { url, application: "a", timeout: "20" },
    { url, application: "a", timeout: Number.NaN },
    { url, application: "a", node: "x.y" },
    { url, application: "a", discoveryWait: -5 },
    { url, application: "a", logger: {} },
    { url, application: "a", natsOptions: 3 },
    { url, application: "a", applicaton: "typo" },
  ];
  const saved = process.env.ARI_APPLICATION;
  delete process.env.ARI_APPLICATION;
  try {
    for (const o of bad) {
      assert.throws(() => new AriProxy(o as never), (err: unknown) => err instanceof ArgumentError && err instanceof BadRequestError && err.code === "bad_request", JSON.stringify(o));
    }
    assert.throws(() => new AriProxy({ url }), /application is required/);
  } finally {
    if (saved !== undefined) process.env.ARI_APPLICATION = saved;
  }
});

test("amqp:// URLs throw a clear not-supported-yet error", () => {
  for (const u of ["amqp://guest:guest@127.0.0.1:5672/", "amqps://h/"]) {
    assert.throws(
      () => new AriProxy({ url: u, application: "a" }),
      (err: unknown) => err instanceof NotImplementedError && /not supported yet/.test(err.message),
    );
  }
});

test("the caller's options object is never modified", async () => {
  const natsOptions = Object.freeze({ name: "mine", maxReconnectAttempts: 1 });
  const options = Object.freeze({ url, application: "app1", timeout: 1234, natsOptions });
  const copy = JSON.stringify(options);
  const c = new AriProxy(options);
  assert.equal(JSON.stringify(options), copy);
  assert.equal(c.options.timeout, 1234);
  assert.ok(Object.isFrozen(c.options));
  await c.close();
});

test("no state is shared between instances", async () => {
  const a = new AriProxy({ url, application: "one", timeout: 1000 });
  const b = new AriProxy({ url, application: "two" });
  assert.equal(a.applicationName, "one");
  assert.equal(b.applicationName, "two");
  assert.equal(a.options.timeout, 1000);
  assert.equal(b.options.timeout, DEFAULT_TIMEOUT);
  assert.equal(a.channel("x").key.app, "one");
  assert.equal(b.channel("x").key.app, "two");
  assert.notEqual(a.channels, b.channels);
  await Promise.all([a.close(), b.close()]);
});

test("defaults are exported constants", () => {
  assert.equal(DEFAULT_TIMEOUT, 20_000);
  assert.equal(DEFAULT_URL, "nats://127.0.0.1:4222");
  assert.equal(DEFAULT_DISCOVERY_WAIT, 250);
  assert.equal(DEFAULT_SERVER_TTL, 30_000);
  assert.equal(DEFAULT_EVENT_BUFFER, 1000);
  assert.equal(DEFAULT_ARCHIVE_FORMAT, "wav");
  const c = new AriProxy({ url, application: "a" });
  assert.equal(c.options.timeout, DEFAULT_TIMEOUT);
  void c.close();
});

test("a connection failure rejects ready() and requests, with an UnavailableError", async () => {
  const c = new AriProxy({ url, application: "a", natsOptions: { reconnect: false } });
  await assert.rejects(c.ready(), { code: "unavailable" });
  await assert.rejects(c.channels.list(), { code: "unavailable" });
  await c.close();
  await assert.rejects(c.channels.list(), { code: "unavailable", name: "ClosedError" });
});

test("method arguments are checked before anything is sent", async () => {
  const c = new AriProxy({ url, application: "a" });
  const ch = c.channel("c1");
  const cases: [() => Promise<unknown>, RegExp][] = [
    [() => ch.play({ media: 3 as never }), /media: expected a string/],
    [() => ch.play({} as never), /media is required/],
    [() => ch.hangup({ reason: "whatever" as never }), /is not one of/],
    [() => ch.hangup({ bogus: 1 } as never), /has no parameter bogus/],
    [() => ch.sendDTMF({ between: 1.5 }), /expected an integer/],
    [() => ch.answer("x" as never), /parameters must be an object/],
    [() => c.bridges.create({ type: "mixing", name: 5 as never }), /name: expected a string/],
    [() => ch.record({ name: "r", format: "wav", maxDurationSeconds: "5" as never }), /expected seconds/],
    [() => ch.record({ name: "r", format: "wav", maxDurationSeconds: new Date(0) }), /not in the future/],
  ];
  for (const [f, re] of cases) await assert.rejects(f(), (err: unknown) => err instanceof ArgumentError && re.test((err as Error).message), re.source);
  assert.throws(() => c.channel(""), ArgumentError);
  assert.throws(() => c.channelFromKey({ kind: "bridge", id: "b" }), ArgumentError);
  await assert.rejects(c.listen("no" as never), ArgumentError);
  await assert.rejects(c.subscribe({ types: "StasisStart" as never }), ArgumentError);
  await c.close();
});

test("time options take seconds (rounded) or a Date", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  assert.equal(toSeconds("t", 2.4, now), 2);
  assert.equal(toSeconds("t", 2.5, now), 3);
  assert.equal(toSeconds("t", 0.2, now), 1, "a positive duration never becomes 0 (no limit)");
  assert.equal(toSeconds("t", 0, now), 0);
  assert.equal(toSeconds("t", -1, now), -1);
  assert.equal(toSeconds("t", new Date(now + 10_000), now), 10);
  assert.equal(toSeconds("t", new Date(now + 10_001), now), 11);
  assert.throws(() => toSeconds("t", new Date(now - 1), now), ArgumentError);
  assert.throws(() => toSeconds("t", Number.POSITIVE_INFINITY, now), ArgumentError);
  assert.throws(() => toSeconds("t", new Date(Number.NaN), now), ArgumentError);
});
