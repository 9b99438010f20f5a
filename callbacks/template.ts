/**
 * Python-style `{name:spec}` templates, as Keras's `ModelCheckpoint(filepath=...)` uses them.
 *
 * @module
 */

/** One `{name:spec}` field's format spec: `[0][width][.precision][d|f|e|g|s]`. */
const SPEC = /^(0)?(\d+)?(?:\.(\d+))?([dfeEgs])?$/;

/** Python's float repr words for non-finite numbers. */
function nonFinite(v: number): string {
  return Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

/** Formats one value with a Python format spec (the subset above). */
export function formatValue(value: number | string, spec: string, field: string): string {
  const m = SPEC.exec(spec);
  if (!m) {
    throw new Error(
      `template: unsupported format spec "{${field}:${spec}}"; use [0][width][.precision][d|f|e|g|s], ` +
        `e.g. {epoch:02d} or {val_loss:.2f}.`,
    );
  }
  const [, zero, widthStr, precStr, type] = m;
  const prec = precStr === undefined ? undefined : Number(precStr);
  let text: string;
  if (typeof value === "string") {
    text = value;
  } else if (!Number.isFinite(value)) {
    text = nonFinite(value);
  } else if (type === "d") {
    text = String(Math.round(value));
  } else if (type === "f") {
    text = value.toFixed(prec ?? 6);
  } else if (type === "e" || type === "E") {
    // Python writes at least two exponent digits: 1.5e-05.
    text = value.toExponential(prec ?? 6).replace(/e([+-])(\d)$/, "e$10$2");
    if (type === "E") text = text.toUpperCase();
  } else if (type === "g") {
    text = String(Number(value.toPrecision(prec ?? 6)));
  } else {
    text = prec === undefined ? String(value) : String(Number(value.toPrecision(prec)));
  }
  const width = widthStr === undefined ? 0 : Number(widthStr);
  if (text.length >= width) return text;
  if (zero && typeof value === "number" && Number.isFinite(value)) {
    const neg = text.startsWith("-");
    return (neg ? "-" : "") + text.slice(neg ? 1 : 0).padStart(width - (neg ? 1 : 0), "0");
  }
  return typeof value === "number" ? text.padStart(width) : text.padEnd(width);
}

/**
 * Fills `{name}` / `{name:spec}` fields of `template` from `values` (`{{` and `}}` are literal
 * braces). A field that is not in `values` is an error naming it and the available keys.
 *
 * @example
 * ```ts
 * import { fillTemplate } from "./template.ts";
 * fillTemplate("ckpt-{epoch:02d}-{val_loss:.2f}", { epoch: 3, val_loss: 0.4567 }, "demo");
 * // "ckpt-03-0.46"
 * ```
 */
export function fillTemplate(
  template: string,
  values: Readonly<Record<string, number | string>>,
  owner: string,
): string {
  return template.replace(/\{\{|\}\}|\{([^{}:]*)(?::([^{}]*))?\}/g, (match, name, spec) => {
    if (match === "{{") return "{";
    if (match === "}}") return "}";
    const key = String(name).trim();
    if (!(key in values)) {
      throw new Error(
        `${owner}: the filepath template "${template}" uses {${key}}, which is not in the logs. ` +
          `Available keys: ${Object.keys(values).join(", ")}. Fix the template.`,
      );
    }
    return formatValue(values[key], spec ?? "", key);
  });
}
