// The README's example runs against the Go stack: answer a call, play a
// prompt, bridge it with an outbound call, record, hang up.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { placeCall, withStack } from "./stack.js";

const root = new URL("../../../", import.meta.url);

test("the README's example is examples/quickstart.ts", () => {
  const readme = readFileSync(new URL("README.md", root), "utf8");
  const example = readFileSync(new URL("examples/quickstart.ts", root), "utf8");
  assert.ok(readme.includes("```ts\n" + example + "```"), "README.md must quote examples/quickstart.ts exactly");
});

test("the README's example handles a call against the local stack", async (t) => {
  const s = await withStack(t);
  if (!s) return;
  const child = spawn(process.execPath, [new URL("build/examples/quickstart.js", root).pathname], {
    env: { ...process.env, MESSAGEBUS_URL: s.url, ARI_APPLICATION: s.application },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  const waiting = new Promise<void>((resolve) =>
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("waiting for a call")) resolve();
    }),
  );
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const timer = setTimeout(() => child.kill(), 60_000);
  try {
    await waiting;
    const call = await placeCall(s, 1);
    const code = await exited;
    t.diagnostic(out.trim().replace(/\n/g, " | "));
    assert.equal(code, 0, out);
    for (const line of [`call ${call.channel}`, "answered", "played", "bridged with", "recorded call-", "hung up"]) assert.ok(out.includes(line), `missing "${line}" in:\n${out}`);
  } finally {
    clearTimeout(timer);
    child.kill();
  }
});
