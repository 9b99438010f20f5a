/**
 * A run's hyperparameters (with the backend), checkpoints and model summary.
 *
 * @module
 */
import type { RunDetail } from "./api.ts";
import {
  formatCodeIdentity,
  parseCodeIdentity,
} from "../../core/experiment/code_identity_format.ts";

/** The config's entries with the experiment's `params` flattened in as `params.<name>`. */
export function flatConfig(config: Record<string, unknown>, prefix = ""): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [k, v] of Object.entries(config)) {
    // Nested objects (`params`, a tracked run's `data: { augment }`) as dotted keys, the
    // column names of the runs table.
    if (typeof v === "object" && v !== null && !Array.isArray(v) && prefix.split(".").length < 8) {
      out.push(...flatConfig(v as Record<string, unknown>, `${prefix}${k}.`));
    } else out.push([`${prefix}${k}`, v]);
  }
  return out;
}

/** The hyperparameters table and model summary of a run. */
export function RunDetails({ detail: d }: { detail: RunDetail }) {
  const info = d.info;
  const code = parseCodeIdentity(info.config?.code);
  return (
    <div class="two">
      <div>
        <h2>Hyperparameters</h2>
        <table class="kv" data-testid="config">
          <tbody>
            {flatConfig(info.config ?? {}).filter(([k]) => !(code && k === "code")).map((
              [k, v],
            ) => (
              <tr key={k}>
                <th>{k}</th>
                <td>{typeof v === "string" ? v : JSON.stringify(v)}</td>
              </tr>
            ))}
            {info.backend && (
              <tr>
                <th>backend</th>
                <td>{`${info.backend.name} (${info.backend.reason})`}</td>
              </tr>
            )}
            {code && (
              <tr data-testid="code-identity">
                <th>code</th>
                <td>{formatCodeIdentity(code)}</td>
              </tr>
            )}
          </tbody>
        </table>
        {d.checkpoints.length > 0 && <p>Checkpoints: {d.checkpoints.join(", ")}</p>}
      </div>
      <div>
        <h2>Model</h2>
        <pre
          class="summary"
          data-testid="model-summary"
        >{d.modelSummary ?? "(no model summary)"}</pre>
      </div>
    </div>
  );
}
