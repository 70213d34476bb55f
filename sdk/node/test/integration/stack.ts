// The Go stack the integration tests run against: the one the Go test
// started (MESSAGEBUS_URL, ARI_APPLICATION and ARI_PROXY_DEV_CALL_URL in
// the environment, as `ari-proxy dev` prints them), or, when run alone
// with npm test, one started here with `ari-proxy dev` built from ../../cmd/ari-proxy.

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AriProxy, type AriProxyOptions } from "@ariproxy/sdk";

export interface Stack {
  url: string;
  application: string;
  callURL: string;
  nodes: string[];
  stop(): Promise<void>;
}

let started: Promise<Stack | undefined> | undefined;

function fromEnv(): Stack | undefined {
  const { MESSAGEBUS_URL: url, ARI_APPLICATION: application, ARI_PROXY_DEV_CALL_URL: callURL, ARI_PROXY_DEV_NODES: nodes } = process.env;
  if (!url || !application || !callURL) return undefined;
  return { url, application, callURL, nodes: (nodes ?? "").split(",").filter(Boolean), stop: async () => {} };
}

function run(): Promise<Stack | undefined> {
  const repo = fileURLToPath(new URL("../../../../../", import.meta.url));
  return new Promise((resolve) => {
    let child: ChildProcess;
    const bin = join(mkdtempSync(join(tmpdir(), "ari-proxy-sdk-")), "ari-proxy");
    try {
      execFileSync("go", ["build", "-o", bin, "./cmd/ari-proxy"], { cwd: repo, stdio: "inherit" });
      child = spawn(bin, ["dev", "--nats", "127.0.0.1:0", "--control", "127.0.0.1:0", "--nodes", "2", "--time-scale", "0.05"], { cwd: repo, stdio: ["ignore", "pipe", "inherit"] });
    } catch {
      return resolve(undefined);
    }
    child.on("error", () => resolve(undefined));
    const vars: Record<string, string> = {};
    const nodes: string[] = [];
    let buf = "";
    child.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      for (;;) {
        const i = buf.indexOf("\n");
        if (i < 0) break;
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const m = /^([A-Z_]+)=(.*)$/.exec(line);
        if (m) vars[m[1] as string] = m[2] as string;
        const n = /^node \d+: (.*)$/.exec(line);
        if (n) nodes.push(n[1] as string);
        if (line.startsWith("ready")) {
          resolve({
            url: vars.MESSAGEBUS_URL as string,
            application: vars.ARI_APPLICATION as string,
            callURL: vars.ARI_PROXY_DEV_CALL_URL as string,
            nodes,
            stop: async () => {
              child.kill("SIGTERM");
            },
          });
        }
      }
    });
    child.on("exit", () => resolve(undefined));
  });
}

/** The stack, or undefined when there is none (the test then skips). */
export function stack(): Promise<Stack | undefined> {
  started ??= Promise.resolve(fromEnv() ?? run());
  return started;
}

/** A connected client of the stack's application. */
export async function client(s: Stack, options: Partial<AriProxyOptions> = {}): Promise<AriProxy> {
  const c = new AriProxy({ url: s.url, application: s.application, timeout: 5_000, ...options });
  await c.ready();
  return c;
}

/** Places a simulated inbound call on node n (1-based) and returns its channel id. */
export async function placeCall(s: Stack, node = 1, args: string[] = []): Promise<{ channel: string; node: string }> {
  const u = new URL(s.callURL);
  u.searchParams.set("node", String(node));
  if (args.length) u.searchParams.set("args", args.join(","));
  const r = await fetch(u, { method: "POST" });
  if (!r.ok) throw new Error(`placing a call: ${r.status} ${await r.text()}`);
  return (await r.json()) as { channel: string; node: string };
}

/** A fresh id for entities a test creates. */
export function newID(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Registers the stack's stop with the test runner's after hook. */
export async function withStack(t: { skip(msg: string): void; after?: unknown }): Promise<Stack | undefined> {
  const s = await stack();
  if (!s) {
    if (process.env.CI === "true") throw new Error("no Go stack: set MESSAGEBUS_URL, ARI_APPLICATION and ARI_PROXY_DEV_CALL_URL, or put go on PATH");
    t.skip("no Go stack (run from the Go test, or with go on PATH)");
  }
  return s;
}
