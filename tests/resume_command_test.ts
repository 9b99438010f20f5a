/**
 * The one resume command (`core/experiment/resume_command.ts`): relative to where it is
 * shown, never code named by a run file, and the same from `runs show`, `runs list` and the
 * dashboard's API.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { resumeCommand } from "../core/experiment/resume_command.ts";
import { main as runsMain } from "../cli/runs.ts";
import { FIXTURE_IDS as F, writeRunsFixture } from "./helpers/runs_fixture.ts";

Deno.test("resumeCommand: the run folder relative to where it is pasted", () => {
  assert.equal(
    resumeCommand({ runDir: "/data/runs/r1" }, "/data"),
    "deno task train --resume runs/r1",
  );
  assert.equal(
    resumeCommand({ runDir: "/data/runs/r1" }, "/home/me"),
    "deno task train --resume ../../data/runs/r1",
  );
  assert.equal(
    resumeCommand({ runDir: "/data/my runs/r1" }, "/data"),
    "deno task train --resume 'my runs/r1'",
  );
});

Deno.test("resumeCommand: an experiment file or plugins are asked for, never taken from the run", () => {
  const cmd = resumeCommand({ runDir: "/d/runs/r", experimentFile: true, plugins: 1 }, "/d");
  assert.match(cmd, /^deno task train --resume runs\/r --experiment FILE --callback PLUGIN {2}# /);
  assert.match(cmd, /a run folder never chooses the code to run/);
  // Train knows the code the user just ran: the exact command.
  assert.equal(
    resumeCommand({
      runDir: "/d/runs/r",
      code: { experiment: "./exp.ts", plugins: ['./cb.ts {"k":1}'] },
    }, "/d"),
    `deno task train --resume runs/r --experiment ./exp.ts --callback './cb.ts {"k":1}'`,
  );
});

Deno.test("runs show: the resume command of a run in another runs folder works from here", async () => {
  const root = await writeRunsFixture(await Deno.makeTempDir());
  const out: string[] = [];
  const code = await runsMain(["--runs", root, "show", F.killed], (s) => out.push(s), () => {});
  assert.equal(code, 0);
  const cmd = /resume with\s+(deno task train --resume (\S+))/.exec(out.join("\n"));
  assert.ok(cmd, out.join("\n"));
  // The path resolves, from the working directory, to the run's folder.
  assert.equal(await Deno.realPath(cmd[2]), await Deno.realPath(join(root, F.killed)));
});
