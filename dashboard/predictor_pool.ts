/**
 * The dashboard's loaded models: a small LRU of {@linkcode Predictor}s, one per run, reloaded
 * when the run's weights change (a running run saves `best` again) and disposed when evicted,
 * and a queue so that one prediction runs at a time (the training process may share the tfjs
 * backend with the dashboard). tfjs, sharp and the model code are imported on first use, so a
 * dashboard nobody predicts with never loads them.
 *
 * @example
 * ```ts ignore
 * import { PredictorPool } from "./predictor_pool.ts";
 * const pool = new PredictorPool({ capacity: 2 });
 * const top = await pool.use("runs/default-20261201-101010", async (predictor) => {
 *   const [r] = await predictor.predict([{ name: "cat.png", bytes }], { topK: 3 });
 *   return r;
 * });
 * await pool.dispose();
 * ```
 *
 * @module
 */
import type { Predictor } from "../core/infer/predict.ts";

/**
 * Options of {@linkcode PredictorPool}.
 *
 * @example
 * ```ts
 * import type { PredictorPoolOptions } from "./predictor_pool.ts";
 * const options: PredictorPoolOptions = { capacity: 2, ensureBackend: () => Promise.resolve() };
 * ```
 */
export interface PredictorPoolOptions {
  /** Runs kept loaded at most (default 3); the least recently used is disposed. */
  capacity?: number;
  /**
   * Makes sure tfjs has a backend before the first model loads. Default: keep the backend the
   * process already uses (the training process's), else `initBackend("auto")`.
   */
  ensureBackend?: () => Promise<void>;
}

interface Entry {
  predictor: Predictor;
  weights: string;
  stamp: number | undefined;
}

/** The default `ensureBackend`: the process's backend, else the fastest usable one. */
async function defaultEnsureBackend(): Promise<void> {
  const tf = await import("@tensorflow/tfjs-core");
  if (tf.engine().backendName) return;
  const { initBackend } = await import("../core/backend/select.ts");
  const choice = await initBackend("auto", {
    saveGradientMemory: false,
    log: (line) => console.warn(line),
  });
  console.error(`dashboard predictions: backend ${choice.name} (${choice.reason})`);
}

/**
 * An LRU of loaded run models with one-at-a-time use (see the module doc).
 *
 * @example
 * ```ts ignore
 * import { PredictorPool } from "./predictor_pool.ts";
 * const pool = new PredictorPool({ capacity: 1 });
 * const classes = await pool.use("runs/default-1", (p) => Promise.resolve(p.classNames));
 * console.log(classes, pool.loaded, pool.loads);
 * await pool.dispose();
 * ```
 */
export class PredictorPool {
  readonly #capacity: number;
  readonly #ensureBackend: () => Promise<void>;
  readonly #entries = new Map<string, Entry>();
  #queue: Promise<unknown> = Promise.resolve();
  #backendReady?: Promise<void>;
  #disposed = false;
  #loads = 0;

  /** A pool keeping at most `options.capacity` runs loaded. */
  constructor(options: PredictorPoolOptions = {}) {
    const capacity = options.capacity ?? 3;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
    this.#ensureBackend = options.ensureBackend ?? defaultEnsureBackend;
  }

  /** Runs whose models are loaded, least recently used first (absolute run folders). */
  get loaded(): string[] {
    return [...this.#entries.keys()];
  }

  /** Models loaded so far (a reload after the weights changed counts again). */
  get loads(): number {
    return this.#loads;
  }

  /**
   * Runs `fn` with the predictor of the run in `runDir` (loaded, or reloaded when its weights
   * changed), after every earlier call has finished. Throws the loader's error (no weights,
   * no class names ...) without caching anything.
   */
  use<T>(runDir: string, fn: (predictor: Predictor) => Promise<T>): Promise<T> {
    const task = this.#queue.then(async () => {
      if (this.#disposed) throw new Error("the predictor pool was disposed");
      return await fn(await this.#get(runDir));
    });
    this.#queue = task.catch(() => {});
    return task;
  }

  async #get(runDir: string): Promise<Predictor> {
    this.#backendReady ??= this.#ensureBackend();
    await this.#backendReady;
    const { Predictor } = await import("../core/infer/predict.ts");
    const { findRunWeights, weightsStamp } = await import("../core/run/checkpoints.ts");
    const weights = await findRunWeights(runDir);
    const stamp = await weightsStamp(weights);
    const cached = this.#entries.get(runDir);
    this.#entries.delete(runDir);
    if (cached && cached.weights === weights.name && cached.stamp === stamp) {
      this.#entries.set(runDir, cached); // most recently used last
      return cached.predictor;
    }
    cached?.predictor.dispose();
    const predictor = await Predictor.load(runDir);
    this.#loads++;
    this.#entries.set(runDir, { predictor, weights: predictor.weights.name, stamp });
    while (this.#entries.size > this.#capacity) {
      const [oldest, entry] = this.#entries.entries().next().value!;
      this.#entries.delete(oldest);
      entry.predictor.dispose();
    }
    return predictor;
  }

  /**
   * Disposes every loaded model once the call in progress (if any) has finished; calls to
   * {@linkcode use} not yet started throw.
   */
  dispose(): Promise<void> {
    this.#disposed = true;
    const done = this.#queue.then(() => {
      for (const e of this.#entries.values()) e.predictor.dispose();
      this.#entries.clear();
    });
    this.#queue = done;
    return done;
  }
}
