// Pins the published package as a new team meets it: `npm pack`, a real `npm install` of the tarball into a fresh project, then the library, its types (strict tsc) and the installed bin.
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ENV, ROOT } from "./serve.ts";
import { ASSET_NAMES } from "../../src/dashboard/dashboard-assets.ts";

const T = { timeout: 300_000 };
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { name: string; version: string; exports: Record<string, unknown>; devDependencies: Record<string, string> };
/** Every entry point the package exports (`agent-factory`, `agent-factory/client`, …), so a new one is covered by adding it to package.json. */
const ENTRY_POINTS = Object.keys(pkg.exports).map((key) => (key === "." ? pkg.name : `${pkg.name}/${key.slice(2)}`));

/**
 * The outer `npm test` leaves npm_* variables (its prefix, its lifecycle) in the environment; a
 * nested npm must not see them or it may act on this checkout instead of the temporary project.
 * The project's Node comes first on PATH, so the installed bin's `#!/usr/bin/env node` runs on it.
 */
const CHILD_ENV: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(ENV).filter(([key]) => !/^npm_/i.test(key)));
CHILD_ENV.PATH = `${dirname(process.execPath)}${delimiter}${ENV.PATH ?? ""}`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], cwd: string, timeout = 180_000): Promise<Run> {
  return new Promise((done) => {
    execFile(command, args, { cwd, env: CHILD_ENV, timeout, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr });
    });
  });
}

function ok(result: Run, what: string): Run {
  assert.equal(result.code, 0, `${what} failed (${result.code})\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

/** What a consumer writes: the README's library use, typed, and a line tsc must reject if the types were lost (an `any` would accept it). */
const CONSUMER_TS = `import { createFactory, isFactoryError, type FactoryOptions, type Task } from "agent-factory";

const options: FactoryOptions = {
  dataDir: ":memory:",
  handlers: { double: async (input) => ({ doubled: (input as { n: number }).n * 2 }) },
};
const factory = await createFactory(options);
factory.registerProfile({ name: "doubler", role: "Doubler", runtime: { kind: "function", handler: "double" } });
const agent = await factory.spawnAgent({ profile: "doubler" });
const submitted: Task = await factory.submitTask({ role: "Doubler", input: { n: 21 } });
const done: Task = await factory.waitForTask(submitted.id, 10_000);
let unknownProfile = "";
try {
  await factory.spawnAgent({ profile: "nobody" });
} catch (error) {
  if (isFactoryError(error)) unknownProfile = error.code;
}
console.log(JSON.stringify({ agent: agent.state, state: done.state, result: done.result, unknownProfile }));
await factory.close();

export function typesAreReal(): Promise<unknown> {
  // @ts-expect-error dataDir is a string: if the package's types were missing this line would compile.
  return createFactory({ dataDir: 42 });
}

export function tasksAndProfilesAreTyped(): void {
  // @ts-expect-error 'rol' is no task field: submitTask takes the typed task, not anything.
  void factory.submitTask({ rol: "Doubler" });
  // @ts-expect-error a runtime kind that does not exist: registerProfile takes the typed profile.
  factory.registerProfile({ name: "x", role: "X", runtime: { kind: "nope" } });
}
`;

describe("the packed package installed into a new project", T, () => {
  let tmp: string;
  let project: string;
  let server: ChildProcess | undefined;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "agent-factory-package-"));
    // What the children leave in the temp folder (npm's files, a ":memory:" factory's folder) goes in ours, removed after.
    CHILD_ENV.TMPDIR = tmp;
    project = join(tmp, "consumer");
    mkdirSync(project);
    // prepack builds dist/ first: the tarball is what `npm publish` would upload.
    const packed = ok(await run("npm", ["pack", "--json", "--pack-destination", tmp], ROOT), "npm pack");
    const [{ filename }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as [{ filename: string }];
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    const typesNode = `@types/node@${pkg.devDependencies["@types/node"]}`;
    ok(await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(tmp, filename), typesNode], project), "npm install of the tarball");
  });

  after(() => {
    if (server?.pid !== undefined && server.exitCode === null && server.signalCode === null) process.kill(server.pid, "SIGKILL");
    rmSync(tmp, { recursive: true, force: true });
  });

  test("ships the built JavaScript, its declarations and the files the code loads by path", () => {
    const installed = join(project, "node_modules", pkg.name);
    for (const file of [
      "dist/index.js",
      "dist/index.d.ts",
      "dist/index.js.map",
      "dist/cli/main.js",
      "dist/runtimes/process/bootstrap/warm.py",
      "dist/runtimes/process/bootstrap/warm.mjs",
      "examples/agents/echo-agent.mjs",
      // The README links them, and serve's banner names docs/storage.md.
      "docs/storage.md",
      "docs/cluster.md",
      // The dashboard's own page files, copied beside the built code (its libraries come from the dependencies).
      "dist/dashboard/public/index.html",
      "dist/dashboard/public/app.js",
      "docs/dashboard.md",
    ]) {
      assert.ok(existsSync(join(installed, file)), `${file} is missing from the installed package`);
    }
    assert.equal(existsSync(join(installed, "test")), false, "the tests are not part of the package");
  });

  test("the library runs from node_modules: a function agent answers a task", async () => {
    writeFileSync(join(project, "use.ts"), CONSUMER_TS);
    const { stdout } = ok(await run(process.execPath, ["--disable-warning=ExperimentalWarning", "use.ts"], project), "node use.ts");
    assert.deepEqual(JSON.parse(stdout.trim()), { agent: "READY", state: "SUCCEEDED", result: { doubled: 42 }, unknownProfile: "PROFILE_NOT_FOUND" });
  });

  test("every entry point loads, and a strict nodenext tsc accepts the consumer's code against the package's types", async () => {
    const imports = ENTRY_POINTS.map((spec, i) => `import * as entry${i} from "${spec}";`).join("\n");
    writeFileSync(join(project, "entries.ts"), `${imports}\nexport const entries: object[] = [${ENTRY_POINTS.map((_, i) => `entry${i}`).join(", ")}];\n`);
    writeFileSync(join(project, "use.ts"), CONSUMER_TS);
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        // skipLibCheck off: the package's own .d.ts files (and what they import) are checked too.
        compilerOptions: { strict: true, module: "nodenext", moduleResolution: "nodenext", target: "es2024", types: ["node"], noEmit: true, skipLibCheck: false },
        files: ["use.ts", "entries.ts"],
      }),
    );
    // Our compiler, TypeScript 7 (`@typescript/native`; the name `typescript` is the TS 6 API the linters use).
    ok(await run(process.execPath, [join(ROOT, "node_modules", "@typescript", "native", "bin", "tsc"), "-p", "."], project), "tsc in the consumer project");
    const check = `const { entries } = await import("./entries.ts"); console.log(JSON.stringify(entries.map((e) => Object.keys(e).length)));`;
    const { stdout } = ok(await run(process.execPath, ["--disable-warning=ExperimentalWarning", "--input-type=module", "-e", check], project), "importing every entry point");
    const counts = JSON.parse(stdout) as number[];
    assert.equal(counts.length, ENTRY_POINTS.length);
    for (const [i, count] of counts.entries()) assert.ok(count > 0, `${ENTRY_POINTS[i]} exports nothing`);
  });

  test("the installed bin: --version, --help, serve and a client command against it", async () => {
    const bin = join(project, "node_modules", ".bin", "agent-factory");
    assert.equal(ok(await run(bin, ["--version"], project), "--version").stdout, `${pkg.version}\n`);
    const help = ok(await run(bin, ["--help"], project), "--help").stdout;
    assert.match(help, /^Usage: agent-factory /);
    assert.match(help, /\n {2}serve /);

    const data = join(tmp, "data");
    const child = spawn(bin, ["serve", "--port", "0", "--data", data], { cwd: project, env: CHILD_ENV, stdio: ["ignore", "pipe", "pipe"] });
    server = child;
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    let out = "";
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
    const url = await new Promise<string>((ready, fail) => {
      const timer = setTimeout(() => fail(new Error(`serve did not start in 30 s\nstdout: ${out}\nstderr: ${err}`)), 30_000);
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk;
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (match !== null) {
          clearTimeout(timer);
          ready(match[1] as string);
        }
      });
      void exited.then((code) => fail(new Error(`serve exited (${code}) before listening\nstdout: ${out}\nstderr: ${err}`)));
    });
    // The dashboard and /docs, with every file they load, served from the installed package and its dependencies: no build step.
    for (const path of ["/ui", "/docs", ...ASSET_NAMES.map((name) => `/ui/assets/${name}`)]) {
      const response = await fetch(`${url}${path}`);
      const body = Buffer.from(await response.arrayBuffer());
      assert.equal(response.status, 200, `${path} from the installed package: ${response.status} ${body.toString("utf8", 0, 300)}`);
      assert.ok(body.byteLength > 0, path);
    }
    const listed = ok(await run(bin, ["--url", url, "--json", "agents", "list"], project), "agents list");
    assert.deepEqual(JSON.parse(listed.stdout), []);
    process.kill(child.pid as number, "SIGTERM");
    assert.equal(await exited, 0, `serve did not stop cleanly on SIGTERM\nstdout: ${out}\nstderr: ${err}`);
    assert.ok(existsSync(join(data, "factory.db")), "serve kept its store in --data");
  });
});
