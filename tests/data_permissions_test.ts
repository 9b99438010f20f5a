/**
 * Unreadable folders. Root reads everything whatever the mode bits, and the tests usually run
 * as root, so the scan runs in a child process as `nobody` (via `setpriv`) when we are root;
 * as another user it runs in this process. Unreadable *files* are tested in
 * data_image_folder_test.ts with an injected reader that fails as Deno does.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { scanImageFolder } from "../core/data/scan.ts";

const isRoot = Deno.uid() === 0;
const hasSetpriv = (() => {
  try {
    return Deno.statSync("/usr/bin/setpriv").isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "scan: a class folder without read permission is reported, the rest still loads",
  ignore: isRoot && !hasSetpriv,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "convdeck-perm-test-" });
    try {
      await Deno.chmod(dir, 0o755);
      await Deno.mkdir(`${dir}/data/train/open`, { recursive: true, mode: 0o755 });
      await Deno.writeTextFile(`${dir}/data/train/open/1.png`, "x");
      await Deno.mkdir(`${dir}/data/train/locked`, { mode: 0o755 });
      await Deno.writeTextFile(`${dir}/data/train/locked/2.png`, "x");
      await Deno.chmod(`${dir}/data/train/locked`, 0o000);
      let report: { bad: unknown[]; files: number };
      if (isRoot) {
        await Deno.mkdir(`${dir}/deno`, { mode: 0o777 });
        await Deno.chmod(`${dir}/deno`, 0o777);
        const scanModule = fileURLToPath(new URL("../core/data/scan.ts", import.meta.url));
        const script = `import { scanImageFolder } from ${JSON.stringify(scanModule)};
const r = await scanImageFolder(${JSON.stringify(`${dir}/data`)});
console.log(JSON.stringify({ bad: r.bad, files: r.files.length }));`;
        await Deno.writeTextFile(`${dir}/scan.ts`, script);
        await Deno.chmod(`${dir}/scan.ts`, 0o644);
        const out = await new Deno.Command("/usr/bin/setpriv", {
          args: [
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            Deno.execPath(),
            "run",
            "--no-check",
            "--no-config",
            "--allow-read",
            `${dir}/scan.ts`,
          ],
          env: { DENO_DIR: `${dir}/deno`, HOME: `${dir}/deno` },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, stderr);
        report = JSON.parse(new TextDecoder().decode(out.stdout));
      } else {
        const r = await scanImageFolder(`${dir}/data`);
        report = { bad: r.bad, files: r.files.length };
      }
      assert.equal(report.files, 1);
      assert.deepEqual(report.bad, [{
        file: "train/locked/",
        reason: "cannot list folder (permission denied)",
        fix: "fix its permissions (chmod a+rx)",
      }]);
    } finally {
      await Deno.chmod(`${dir}/data/train/locked`, 0o755).catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});
