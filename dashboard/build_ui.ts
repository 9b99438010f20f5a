/**
 * Builds the dashboard client into `dashboard/ui/dist/` (`deno task build-ui`): `app.js`
 * bundled and minified with `deno bundle` (Preact, @preact/signals and uPlot included), and
 * `app.css` (uPlot's stylesheet + ours). The output is committed; `--check` fails when the
 * committed files differ from a fresh build.
 *
 * @module
 */
import { createRequire } from "node:module";
import { fileURLToPath as fromFileUrl, pathToFileURL } from "node:url";

const ui = new URL("./ui/", import.meta.url);
const dist = new URL("./dist/", ui);

/** Bundles the client into `outDir` and returns the paths written. */
export async function buildUi(outDir: URL = dist): Promise<{ js: string; css: string }> {
  await Deno.mkdir(outDir, { recursive: true });
  const js = fromFileUrl(new URL("app.js", outDir));
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--minify",
      "-o",
      js,
      fromFileUrl(new URL("main.tsx", ui)),
    ],
    stdout: "inherit",
    stderr: "piped",
  });
  const out = await cmd.output();
  if (!out.success) {
    throw new Error(`deno bundle failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  const require = createRequire(import.meta.url);
  const uplotCss = await Deno.readTextFile(require.resolve("uplot/dist/uPlot.min.css"));
  const ours = await Deno.readTextFile(new URL("style.css", ui));
  const css = fromFileUrl(new URL("app.css", outDir));
  await Deno.writeTextFile(css, uplotCss + "\n" + ours);
  return { js, css };
}

if (import.meta.main) {
  if (Deno.args.includes("--check")) {
    const tmp = await Deno.makeTempDir();
    const built = await buildUi(pathToFileURL(tmp + "/"));
    for (const [name, file] of Object.entries(built)) {
      const committed = await Deno.readFile(new URL(`app.${name}`, dist)).catch(() => null);
      const fresh = await Deno.readFile(file);
      if (
        !committed || committed.length !== fresh.length ||
        !committed.every((b, i) => b === fresh[i])
      ) {
        console.error(`dashboard/ui/dist/app.${name} is out of date: run \`deno task build-ui\``);
        Deno.exit(1);
      }
    }
    console.log("dashboard bundle is up to date");
  } else {
    const { js, css } = await buildUi();
    console.log(`wrote ${js} (${(await Deno.stat(js)).size} bytes) and ${css}`);
  }
}
