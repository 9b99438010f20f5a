/**
 * `deno doc --lint` over the package's entry points, failing on every finding except one
 * kind that is not ours to fix: `private-type-ref` to a type of an npm dependency (tfjs's
 * `LayersModel`, Hono's `Hono`, ...). Deno drops that diagnostic for jsr:/https: packages
 * (denoland/deno#34339) but npm packages resolve to `file:` URLs in Deno's cache, so their
 * public types still read as "private" here. A referenced type counts as a dependency's when
 * no source file of this package declares it.
 *
 * @module
 */
import { walk } from "./_walk.ts";
const ENTRY_POINTS = [
  "mod.ts",
  "callbacks/mod.ts",
  "core/run/mod.ts",
  "core/data/mod.ts",
  "dashboard/mod.ts",
  "experiments/registry.ts",
];

const out = await new Deno.Command(Deno.execPath(), {
  args: ["doc", "--lint", ...ENTRY_POINTS],
  stdout: "piped",
  stderr: "piped",
  env: { NO_COLOR: "1" },
}).output();
const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
// Each finding starts with "error[rule]:" and runs to the next one.
const findings = text.split(/\n(?=error\[)/).filter((f) => f.startsWith("error["));
const declared = new Set<string>();
for await (const file of walk(".", /\.tsx?$/)) {
  const src = await Deno.readTextFile(file);
  for (
    const m of src.matchAll(/\b(?:class|interface|type|function|const|enum) ([A-Za-z_$][\w$]*)/g)
  ) {
    declared.add(m[1]);
  }
}
const ours = findings.filter((f) => {
  const m = /^error\[private-type-ref\]: .* references private type '([^']+)'/.exec(f);
  return !m || declared.has(m[1]);
});
const npmRefs = findings.length - ours.length;
for (const f of ours) console.error(f.trimEnd() + "\n");
console.log(
  `deno doc --lint: ${ours.length} finding(s) in convdeck's own API` +
    (npmRefs ? ` (${npmRefs} references to npm dependencies' types not counted)` : ""),
);
Deno.exit(ours.length === 0 ? 0 : 1);
