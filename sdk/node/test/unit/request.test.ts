import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { newRequest, prepare } from "../../src/request.js";
import { METHODS } from "@ariproxy/sdk";
import { OPERATIONS } from "../../src/generated/tables.js";

interface Case {
  op: string;
  key: Record<string, string>;
  params: Record<string, unknown>;
  expected: Record<string, unknown>;
}

const cases: Case[] = JSON.parse(readFileSync(new URL("../../../test/generated/requests.json", import.meta.url), "utf8"));

test("every operation builds the envelope the Go side builds (wire.NewRequest)", () => {
  assert.ok(cases.length >= 2 * Object.keys(OPERATIONS).length);
  let n = 0;
  for (const c of cases) {
    const p = prepare(c.op, c.key, c.params);
    const got = JSON.parse(JSON.stringify(newRequest(p.kind, p.key, p.params)));
    assert.deepEqual(got, c.expected, `${c.op} ${JSON.stringify(c.params)}`);
    n++;
  }
  assert.ok(n > 200, `${n} cases`);
});

test("prepare never modifies the caller's parameters", () => {
  const params = Object.freeze({ media: Object.freeze(["sound:a", "sound:b"]), lang: "en" });
  const p = prepare("channels.play", { kind: "channel", id: "c1", app: "demo" }, params);
  assert.notEqual(p.params, params);
  const env = newRequest(p.kind, p.key, p.params);
  assert.equal(env.kind, "ChannelPlay");
  assert.deepEqual(params, { media: ["sound:a", "sound:b"], lang: "en" });
});

test("seconds parameters take Dates and fractions", () => {
  const now = Date.now();
  const p = prepare("channels.record", { kind: "channel", id: "c1" }, { name: "r", format: "wav", maxDurationSeconds: new Date(now + 30_000), maxSilenceSeconds: 2.6 }, now);
  assert.equal(p.params.maxDurationSeconds, 30);
  assert.equal(p.params.maxSilenceSeconds, 3);
  const env = newRequest(p.kind, p.key, p.params) as unknown as { channel_record: { options: { MaxDuration: number; MaxSilence: number } } };
  assert.equal(env.channel_record.options.MaxDuration, 30e9, "v5 payloads carry nanoseconds");
  assert.equal(env.channel_record.options.MaxSilence, 3e9);
});

test("the generated surface has one method per ARI operation", () => {
  assert.deepEqual(METHODS.map((m) => m.op).sort(), Object.keys(OPERATIONS).sort());
});
