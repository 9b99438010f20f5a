/**
 * Walks an image-folder dataset, `DIR/{train,val,test}/<class>/<files>`, without decoding
 * anything: finds the splits and classes, lists and stats every file, and collects the
 * problems a person must hear about (missing or empty folders, files outside class folders,
 * unreadable folders). Class names are sorted, so label `i` means the same class in every
 * split and every run.
 *
 * @module
 */
import { resolve as resolvePath } from "node:path";
import { DataError } from "./data_error.ts";

/** The three splits of a dataset. */
export type SplitName = "train" | "val" | "test";

/** The split names, in order. */
export const SPLIT_NAMES: readonly SplitName[] = ["train", "val", "test"];

/** Folder names accepted for each split (compared case-insensitively). */
const SPLIT_ALIASES: Record<SplitName, string[]> = {
  train: ["train", "training"],
  val: ["val", "valid", "validation"],
  test: ["test", "testing"],
};

/** One candidate image file. */
export interface ImageFile {
  /** The split it belongs to. */
  split: SplitName;
  /** Its class folder's name. */
  className: string;
  /** Path relative to the data folder, `/`-separated (the cache key and the name shown). */
  rel: string;
  /** Absolute path. */
  path: string;
  /** Modification time in ms (cache key). */
  mtimeMs: number;
  /** Size in bytes (cache key). */
  size: number;
}

/** A file (or folder) that was skipped, and why. */
export interface BadFile {
  /** Path relative to the data folder. */
  file: string;
  /** What is wrong with it. */
  reason: string;
  /** What to do about it. */
  fix: string;
}

/** What a scan found. */
export interface ScanResult {
  /** Absolute path of the data folder. */
  root: string;
  /** The folder name used for each split present (e.g. `{ train: "train", val: "valid" }`). */
  splitDirs: Partial<Record<SplitName, string>>;
  /** Sorted class names: the union of the class folders of every split. */
  classNames: string[];
  /** Candidate image files of every split, sorted by path. */
  files: ImageFile[];
  /** Files and folders that cannot be read. */
  bad: BadFile[];
  /** Class folders with no files (relative paths). */
  emptyClassFolders: string[];
  /** Split folders present but without any file (e.g. `val`). */
  emptySplits: SplitName[];
  /** Everything else worth telling (one sentence each). */
  warnings: string[];
}

/**
 * Files that operating systems and tools leave in folders; ignored without a word.
 *
 * @example
 * ```ts
 * import { isIgnored } from "./scan.ts";
 * isIgnored(".DS_Store"); // true
 * isIgnored("muffin.jpg"); // false
 * ```
 */
export function isIgnored(name: string): boolean {
  return name.startsWith(".") || name === "Thumbs.db" || name === "desktop.ini" ||
    name === "__MACOSX";
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function describe(e: unknown): string {
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.NotFound) return "not found (a broken link?)";
  return e instanceof Error ? e.message : String(e);
}

async function listDir(path: string): Promise<Deno.DirEntry[]> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(path)) entries.push(entry);
  return entries.sort((a, b) => byName(a.name, b.name));
}

/** Resolves symlinks: returns whether the entry is a file or a directory (throws if broken). */
async function kindOf(path: string, entry: Deno.DirEntry): Promise<"file" | "dir" | "other"> {
  if (!entry.isSymlink) return entry.isDirectory ? "dir" : entry.isFile ? "file" : "other";
  const info = await Deno.stat(path);
  return info.isDirectory ? "dir" : info.isFile ? "file" : "other";
}

/**
 * Scans the image-folder dataset at `dir`. Throws `DataError` when `dir` or its `train/`
 * folder is missing; everything else is reported in the result.
 *
 * @example
 * ```ts
 * import { scanImageFolder } from "./scan.ts";
 * const scan = await scanImageFolder("data/snacks");
 * console.log(scan.classNames, scan.files.length, scan.warnings);
 * ```
 */
export async function scanImageFolder(dir: string): Promise<ScanResult> {
  const root = resolvePath(dir);
  let rootInfo: Deno.FileInfo;
  try {
    rootInfo = await Deno.stat(root);
  } catch (e) {
    throw new DataError(
      `data folder "${dir}" cannot be read (${
        describe(e)
      }): pass --data with a folder that holds ` +
        `train/<class>/<images> (and optionally val/ and test/)`,
    );
  }
  if (!rootInfo.isDirectory) {
    throw new DataError(
      `data path "${dir}" is a file, not a folder: pass --data with a folder that holds train/<class>/<images>`,
    );
  }
  let top: Deno.DirEntry[];
  try {
    top = await listDir(root);
  } catch (e) {
    throw new DataError(`cannot list data folder "${dir}" (${describe(e)}): fix its permissions`);
  }

  const result: ScanResult = {
    root,
    splitDirs: {},
    classNames: [],
    files: [],
    bad: [],
    emptyClassFolders: [],
    emptySplits: [],
    warnings: [],
  };
  for (const split of SPLIT_NAMES) {
    const matches = top.filter((e) =>
      SPLIT_ALIASES[split].includes(e.name.toLowerCase()) && (e.isDirectory || e.isSymlink)
    );
    if (matches.length === 0) continue;
    result.splitDirs[split] = matches[0].name;
    if (matches.length > 1) {
      result.warnings.push(
        `"${dir}" has several ${split} folders (${matches.map((m) => m.name).join(", ")}): ` +
          `using ${matches[0].name}/; rename or remove the others`,
      );
    }
  }
  if (!result.splitDirs.train) {
    const names = top.filter((e) => !isIgnored(e.name)).map((e) => e.name);
    const hint = names.length > 0 && !names.some((n) => /^(val|valid|validation|test)$/i.test(n))
      ? ` If ${names.slice(0, 3).join(", ")}${
        names.length > 3 ? " ..." : ""
      } are class folders, move them into ${dir}/train/.`
      : "";
    throw new DataError(
      `data folder "${dir}" has no train/ folder (found: ${
        names.length ? names.join(", ") : "nothing"
      }). ` +
        `Expected ${dir}/train/<class>/<images>, optionally with val/ and test/ beside it.${hint}`,
    );
  }

  const classesBySplit: Partial<Record<SplitName, Set<string>>> = {};
  for (const split of SPLIT_NAMES) {
    const splitDir = result.splitDirs[split];
    if (!splitDir) continue;
    classesBySplit[split] = await scanSplit(result, split, splitDir);
  }

  const all = new Set<string>();
  for (const set of Object.values(classesBySplit)) for (const c of set!) all.add(c);
  result.classNames = [...all].sort(byName);
  for (const split of SPLIT_NAMES) {
    const present = classesBySplit[split];
    if (!present) continue;
    const splitDir = result.splitDirs[split]!;
    for (const c of result.classNames) {
      if (present.has(c)) continue;
      result.warnings.push(
        split === "train"
          ? `class "${c}" has no folder in ${splitDir}/: the model cannot learn it; add ${splitDir}/${c}/ with images`
          : `class "${c}" has no folder in ${splitDir}/: its ${split} accuracy will not be measured`,
      );
    }
  }
  result.files.sort((a, b) => byName(a.rel, b.rel));
  return result;
}

/** Scans one split folder; returns the class folder names found in it. */
async function scanSplit(
  result: ScanResult,
  split: SplitName,
  splitDir: string,
): Promise<Set<string>> {
  const classes = new Set<string>();
  let entries: Deno.DirEntry[];
  try {
    entries = await listDir(`${result.root}/${splitDir}`);
  } catch (e) {
    result.bad.push({
      file: `${splitDir}/`,
      reason: `cannot list folder (${describe(e)})`,
      fix: "fix its permissions (chmod a+rx)",
    });
    return classes;
  }
  let fileCount = 0;
  for (const entry of entries) {
    if (isIgnored(entry.name)) continue;
    const rel = `${splitDir}/${entry.name}`;
    const path = `${result.root}/${rel}`;
    let kind: "file" | "dir" | "other";
    try {
      kind = await kindOf(path, entry);
    } catch (e) {
      result.bad.push({
        file: rel,
        reason: `cannot read (${describe(e)})`,
        fix: "fix or remove the link",
      });
      continue;
    }
    if (kind !== "dir") {
      result.warnings.push(
        `${rel} is not inside a class folder and is ignored: move it into ${splitDir}/<class>/`,
      );
      continue;
    }
    classes.add(entry.name);
    const before = result.files.length;
    await walkClass(result, split, entry.name, rel);
    const found = result.files.length - before;
    fileCount += found;
    if (found === 0 && !result.bad.some((b) => b.file.startsWith(`${rel}/`))) {
      result.emptyClassFolders.push(rel);
    }
  }
  if (fileCount === 0) result.emptySplits.push(split);
  return classes;
}

/** Adds every file under a class folder (recursively) to `result.files`. */
async function walkClass(
  result: ScanResult,
  split: SplitName,
  className: string,
  relDir: string,
): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await listDir(`${result.root}/${relDir}`);
  } catch (e) {
    result.bad.push({
      file: `${relDir}/`,
      reason: `cannot list folder (${describe(e)})`,
      fix: "fix its permissions (chmod a+rx)",
    });
    return;
  }
  for (const entry of entries) {
    if (isIgnored(entry.name)) continue;
    const rel = `${relDir}/${entry.name}`;
    const path = `${result.root}/${rel}`;
    try {
      const kind = await kindOf(path, entry);
      if (kind === "dir") {
        await walkClass(result, split, className, rel);
      } else if (kind === "file") {
        const info = await Deno.stat(path);
        result.files.push({
          split,
          className,
          rel,
          path,
          mtimeMs: info.mtime?.getTime() ?? 0,
          size: info.size,
        });
      } else {
        result.bad.push({
          file: rel,
          reason: "not a regular file",
          fix: "remove it from the class folder",
        });
      }
    } catch (e) {
      result.bad.push({
        file: rel,
        reason: `cannot read (${describe(e)})`,
        fix: "fix its permissions or remove it",
      });
    }
  }
}
