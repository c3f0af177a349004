// Pins where relative runtime.files point (the folder of the file that declared them) and which folders a real `serve` lets them come from, through serve --profiles and the CLI's -f commands.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { cli, ROOT, startServe, type Server } from "./serve.ts";

const work = realpathSync(mkdtempSync(join(tmpdir(), "af-e2e-files-")));
const servers: Server[] = [];
after(() => {
  for (const server of servers) if (server.child.exitCode === null) server.child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

/** A folder under the test's temp dir holding the example Python agent as `agent.py` and these YAML files. */
function folder(name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(ROOT, "examples/agents/echo_agent.py"), join(dir, "agent.py"));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

const profileYaml = (name: string, file: string): string =>
  `name: ${name}\nrole: Py\nruntime:\n  kind: process\n  command: [python3, /agent/agent.py]\n  files: [${file}]\npool: { spawnStrategy: manual }\n`;

describe("agent files through serve and the CLI", () => {
  it("serve --profiles resolves relative files against the profile's folder and allows that folder; the CLI resolves -f files against theirs", async () => {
    const profiles = folder("profiles", { "p.yaml": profileYaml("p", "agent.py"), "q.yml": profileYaml("q", "./sub/../agent.py") });
    const server = await startServe(["--data", join(work, "data"), "--profiles", profiles], (s) => servers.push(s));
    assert.match(server.stdout(), /profiles: 2 file\(s\) in .*, 2 new version\(s\)/);
    const get = async (name: string) => (await (await fetch(`${server.url}/v1/profiles/${name}`)).json()) as { runtime: { files: string[] } };
    assert.deepEqual((await get("p")).runtime.files, [join(profiles, "agent.py")]);
    assert.deepEqual((await get("q")).runtime.files, [join(profiles, "agent.py")]);
    const spawned = await cli(server.url, "--json", "spawn", "p");
    assert.equal(spawned.code, 0, spawned.stderr);
    // profiles apply -f with a relative path: resolved against the file's folder, then allowed (the profiles folder) …
    writeFileSync(join(profiles, "r.yaml"), profileYaml("r", "agent.py"));
    const applied = await cli(server.url, "--json", "profiles", "apply", "-f", join(profiles, "r.yaml"));
    assert.equal(applied.code, 0, applied.stderr);
    assert.deepEqual((JSON.parse(applied.stdout) as Array<{ runtime: { files: string[] } }>)[0]?.runtime.files, [join(profiles, "agent.py")]);
    // … or refused when that folder is not one the server allows: the client's file location widens nothing.
    const elsewhere = folder("elsewhere", { "s.yaml": profileYaml("s", "agent.py"), "crew.yaml": `name: c\nmembers:\n  - config:\n${profileYaml("t", "agent.py").replace(/^/gm, "      ")}` });
    const refused = await cli(server.url, "profiles", "apply", "-f", join(elsewhere, "s.yaml"));
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr.trim(),
      `error: ${join(elsewhere, "s.yaml")}: runtime.files.0: ${join(elsewhere, "agent.py")} is outside the folders agent files may come from (allowed: ${profiles}); the operator allows a folder with \`serve --agent-files DIR\` (or createFactory({ agentFiles })) (field: runtime.files.0) [VALIDATION_FAILED]`,
    );
    // A crew manifest's inline profile: resolved against the manifest's folder, checked the same way.
    const crew = await cli(server.url, "crew", "assemble", "-f", join(elsewhere, "crew.yaml"));
    assert.equal(crew.code, 1);
    assert.match(crew.stderr, new RegExp(`members\\.0\\.config\\.runtime\\.files\\.0: ${join(elsewhere, "agent.py")} is outside the folders agent files may come from`));
    const spawnFile = await cli(server.url, "spawn", "-f", join(elsewhere, "s.yaml"));
    assert.equal(spawnFile.code, 1);
    assert.match(spawnFile.stderr, /\(field: config\.runtime\.files\.0\) \[VALIDATION_FAILED\]/);
    server.child.kill("SIGTERM");
    await server.exited;
  });

  it("serve refuses to start on a profile whose relative file is missing or outside the allowed folders, naming the file, field and path", async () => {
    const broken = folder("broken", { "m.yaml": profileYaml("m", "missing.py") });
    await assert.rejects(startServe(["--data", join(work, "data2"), "--profiles", broken], (s) => servers.push(s)), (error: Error) => {
      assert.match(error.message, new RegExp(`error: ${join(broken, "m.yaml")}: runtime\\.files\\.0: ${join(broken, "missing.py")} does not exist`));
      return true;
    });
    // The README's demo profiles name ../agents/…: without --agent-files examples/agents they are refused, with it they load.
    await assert.rejects(startServe(["--data", join(work, "data3"), "--profiles", "examples/profiles"], (s) => servers.push(s)), (error: Error) => {
      assert.match(error.message, new RegExp(`error: examples/profiles/node-agent\\.yaml: runtime\\.files\\.0: ${join(ROOT, "examples/agents/echo-agent.mjs")} is outside the folders agent files may come from \\(allowed: ${join(ROOT, "examples/profiles")}\\)`));
      return true;
    });
    await assert.rejects(startServe(["--data", join(work, "data4"), "--agent-files", join(work, "nowhere")], (s) => servers.push(s)), /error: --agent-files .*nowhere: no such folder/);
  });
});
