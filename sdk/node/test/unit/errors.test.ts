import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AriProxyError,
  ConflictError,
  ERROR_CODES,
  InternalError,
  NotFoundError,
  NotImplementedError,
  TimeoutError,
  UnavailableError,
  UnprocessableError,
  UnclaimedError,
  BadRequestError,
  errorForCode,
  codeFromText,
} from "@ariproxy/sdk";
import { replyError, NotFoundError as SrcNotFoundError } from "../../src/errors.js";
import { responseSchema } from "../../src/generated/schemas.js";

test("one error class per error code of the protocol", () => {
  assert.deepEqual([...ERROR_CODES].sort(), [...responseSchema.properties.error_code.enum].sort());
  const classes = { not_found: NotFoundError, conflict: ConflictError, bad_request: BadRequestError, unprocessable: UnprocessableError, unavailable: UnavailableError, timeout: TimeoutError, not_implemented: NotImplementedError, internal: InternalError, unclaimed: UnclaimedError };
  for (const code of ERROR_CODES) {
    const e = errorForCode(code, "m", { status: 404, detail: "d", node: "n" });
    assert.ok(e instanceof classes[code], code);
    assert.ok(e instanceof AriProxyError && e instanceof Error);
    assert.equal(e.code, code);
    assert.equal(e.name, classes[code].name);
    assert.equal(e.status, 404);
    assert.equal(e.detail, "d");
  }
  assert.ok(errorForCode("something_new", "m") instanceof InternalError);
});

test("replies map onto error classes, with status and Asterisk's message", () => {
  const e = replyError({ error: "Non-2XX response: 404 Not Found", error_code: "not_found", ari_status: 404, error_detail: "Channel not found", node: "02:fc:00:00:00:02" }, "ChannelData");
  assert.ok(e instanceof SrcNotFoundError);
  assert.equal(e?.status, 404);
  assert.equal(e?.detail, "Channel not found");
  assert.equal(e?.node, "02:fc:00:00:00:02");
  assert.equal(e?.kind, "ChannelData");
  assert.match(e?.message ?? "", /ChannelData: Non-2XX response: 404 Not Found \(Channel not found\)/);
  assert.equal(replyError({ error: "" }), undefined);
});

test("v5 texts without a code are mapped as docs/protocol.md says", () => {
  const cases: [string, string, number | undefined][] = [
    ["Non-2XX response: 404 Not Found", "not_found", 404],
    ["Non-2XX response: 409 Conflict", "conflict", 409],
    ["Non-2XX response: 422 Unprocessable Entity", "unprocessable", 422],
    ["Non-2XX response: 400 Bad Request", "bad_request", 400],
    ["Non-2XX response: 503 Service Unavailable", "unavailable", 503],
    ["Non-2XX response: 500 Internal Server Error", "internal", 500],
    ["Not implemented", "not_implemented", undefined],
    ["failed to get data: channel not found", "not_found", undefined],
    ["context deadline exceeded", "timeout", undefined],
    ["nats: no responders available for request", "unavailable", undefined],
    ["something odd", "internal", undefined],
  ];
  for (const [text, code, status] of cases) {
    const e = replyError({ error: text });
    assert.equal(e?.code, code, text);
    assert.equal(e?.status, status, text);
  }
  assert.equal(codeFromText("Not implemented"), "not_implemented");
});
