import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));

test("npm pack lists exactly the files meant to ship", () => {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8" });
  const files: string[] = JSON.parse(out)[0].files.map((f: { path: string }) => f.path).sort();
  // dist/ holds one .js and one .d.ts per module of src/.
  const modules = (dir: string): string[] =>
    readdirSync(`${root}src/${dir}`, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? modules(`${dir}${e.name}/`) : e.name.endsWith(".ts") ? [`${dir}${e.name.slice(0, -3)}`] : [],
    );
  const want = ["CHANGELOG.md", "README.md", "package.json", ...modules("").flatMap((m) => [`dist/${m}.d.ts`, `dist/${m}.js`])].sort();
  assert.deepEqual(files, want);
});

test("package.json: semver version, a CHANGELOG entry for it, ESM with types", () => {
  const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8"));
  assert.match(pkg.version, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
  assert.match(readFileSync(`${root}CHANGELOG.md`, "utf8"), new RegExp(`^## \\[?${pkg.version.replace(/\./g, "\\.")}\\]?`, "m"));
  assert.equal(pkg.type, "module");
  assert.equal(pkg.exports["."].types, "./dist/index.d.ts");
  assert.ok(pkg.dependencies["@nats-io/transport-node"]);
});
