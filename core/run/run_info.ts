/**
 * Reading and validating `run.json`: required fields are checked, optional fields of the wrong
 * type are dropped and listed, so one odd run never breaks a listing.
 *
 * @example
 * ```ts
 * import { readRunInfoChecked } from "./run_info.ts";
 * const { info, problems } = await readRunInfoChecked("runs/default-20261201-101010");
 * console.log(info.status, problems);
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { RUN_FILES, RUN_STATUSES, type RunInfo } from "./format.ts";
import { readConfinedText } from "../fs/confine.ts";

/** The most bytes `run.json` may have (a larger one is a problem of that run, not read). */
export const MAX_RUN_INFO_BYTES = 1 << 20;

/**
 * Reads and validates `run.json` of the run in `runDir`. Throws an error naming the file
 * when it is missing, a symlink or not a regular file, larger than
 * {@linkcode MAX_RUN_INFO_BYTES}, not JSON, or lacks `id`/`status`. Optional fields of the
 * wrong type are dropped (see {@linkcode readRunInfoChecked} for the list).
 */
export async function readRunInfo(runDir: string): Promise<RunInfo> {
  return (await readRunInfoChecked(runDir)).info;
}

/**
 * {@linkcode readRunInfo} plus the problems found: each optional field of the wrong type is
 * left out of `info` and named in `problems`, so one odd run never breaks a listing.
 */
export async function readRunInfoChecked(
  runDir: string,
): Promise<{ info: RunInfo; problems: string[] }> {
  const file = join(runDir, RUN_FILES.info);
  let text: string;
  try {
    text = await readConfinedText(runDir, RUN_FILES.info, MAX_RUN_INFO_BYTES);
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(
      `${file} is not valid JSON (${(err as Error).message}); it is written by the trainer ` +
        `with write-then-rename, so the file was edited or copied partially`,
    );
  }
  return validateRunInfo(raw, file);
}

type FieldCheck = (v: unknown) => boolean;
const isString: FieldCheck = (v) => typeof v === "string";
const isCount: FieldCheck = (v) => typeof v === "number" && Number.isInteger(v) && v >= 0;
const isObject: FieldCheck = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
const isTime: FieldCheck = (v) => typeof v === "string" && Number.isFinite(Date.parse(v));

/** Optional (or defaulted) run.json fields and the type each must have. */
const FIELDS: Record<string, [FieldCheck, string]> = {
  experiment: [isString, "a string"],
  stopReason: [isString, "a string"],
  error: [isString, "a string"],
  config: [isObject, "an object"],
  backend: [
    (v) => isObject(v) && isString((v as Record<string, unknown>).name),
    "an object with a name",
  ],
  versions: [isObject, "an object"],
  dataset: [isObject, "an object"],
  createdAt: [isTime, "an ISO time"],
  updatedAt: [isTime, "an ISO time"],
  endedAt: [isTime, "an ISO time"],
  pid: [isCount, "a process id"],
  epochs: [isCount, "a non-negative integer"],
  steps: [isCount, "a non-negative integer"],
  test: [
    (v) => isObject(v) && typeof (v as Record<string, unknown>).accuracy === "number",
    "an object with an accuracy",
  ],
  best: [
    (v) =>
      isObject(v) &&
      Object.values(v as Record<string, unknown>).every((b) =>
        isObject(b) && typeof (b as Record<string, unknown>).value === "number" &&
        typeof (b as Record<string, unknown>).epoch === "number"
      ),
    "an object of {value, epoch}",
  ],
  last: [
    (v) =>
      isObject(v) &&
      Object.values(v as Record<string, unknown>).every((x) => typeof x === "number"),
    "an object of numbers",
  ],
  model: [
    (v) =>
      isObject(v) && Array.isArray((v as Record<string, unknown>).layers) &&
      ((v as Record<string, unknown>).layers as unknown[]).every((l) =>
        isObject(l) && isString((l as Record<string, unknown>).name) &&
        isObject((l as Record<string, unknown>).receptiveField)
      ),
    "an object with a layers array",
  ],
};

/**
 * Checks a parsed run.json: `id` and a known `status` are required (else throws naming
 * `file`); other fields of the wrong type are dropped and listed in `problems`.
 */
export function validateRunInfo(
  raw: unknown,
  file = RUN_FILES.info as string,
): { info: RunInfo; problems: string[] } {
  if (!isObject(raw)) throw new Error(`${file} is not a JSON object: not a convdeck run.json`);
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== "string" || typeof r.status !== "string") {
    throw new Error(`${file} lacks "id" or "status": not a convdeck run.json`);
  }
  if (!(RUN_STATUSES as readonly string[]).includes(r.status)) {
    throw new Error(
      `${file} has status ${JSON.stringify(r.status)}, not one of ${RUN_STATUSES.join(", ")}`,
    );
  }
  const problems: string[] = [];
  const info: Record<string, unknown> = { ...r };
  for (const [key, [check, what]] of Object.entries(FIELDS)) {
    if (info[key] === undefined) continue;
    if (!check(info[key])) {
      problems.push(`${key} should be ${what}, got ${JSON.stringify(info[key])?.slice(0, 60)}`);
      delete info[key];
    }
  }
  info.format = 1;
  info.experiment ??= "";
  info.config ??= {};
  info.versions ??= {};
  info.createdAt ??= "";
  info.updatedAt ??= info.createdAt;
  info.epochs ??= 0;
  info.steps ??= 0;
  return { info: info as unknown as RunInfo, problems };
}
