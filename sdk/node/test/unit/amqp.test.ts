// The RabbitMQ layout of bus/amqpbus (layout.go), as the SDK writes it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { bindingKey, exchangeOf, exchangesOf, matchSubject } from "../../src/amqp.js";

test("exchanges: the first class token decides; a leading wildcard binds to all four", () => {
  const cases: [string, string][] = [
    ["ari.event.app.node", "ari.event"],
    ["ari.dialogevent.d1", "ari.event"],
    ["ari.get.app", "ari.request"],
    ["ari.data.app.node", "ari.request"],
    ["ari.command.app.node", "ari.request"],
    ["ari.create.app", "ari.request"],
    ["ari.ping", "ari.ping"],
    ["ari.announce", "ari.announce"],
    ["other.prefix.get.app", "ari.request"],
    ["ari.flush.x", "ari.event"],
  ];
  for (const [subject, ex] of cases) assert.equal(exchangeOf(subject), ex, subject);
  assert.deepEqual(exchangesOf("ari.event.app.>"), ["ari.event"]);
  assert.deepEqual(exchangesOf("ari.announce"), ["ari.announce"]);
  assert.deepEqual(exchangesOf("ari.>"), ["ari.event", "ari.request", "ari.ping", "ari.announce"]);
});

test("binding keys write > as #; deliveries are matched the NATS way", () => {
  assert.equal(bindingKey(">"), "#");
  assert.equal(bindingKey("ari.event.app.>"), "ari.event.app.#");
  assert.equal(bindingKey("ari.event.*.n1"), "ari.event.*.n1");
  const cases: [string, string, boolean][] = [
    ["ari.event.app.>", "ari.event.app.n1", true],
    ["ari.event.app.>", "ari.event.app", false], // AMQP's # would match it
    ["ari.event.app.>", "ari.event.app2.n1", false],
    ["ari.event.*.n1", "ari.event.app.n1", true],
    ["ari.event.*.n1", "ari.event.app.n2", false],
    ["ari.announce", "ari.announce", true],
    ["ari.announce", "ari.announce.x", false],
  ];
  for (const [p, s, want] of cases) assert.equal(matchSubject(p, s), want, `${p} ~ ${s}`);
});
