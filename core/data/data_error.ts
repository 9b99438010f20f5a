/**
 * The error thrown for bad data that the user must fix (missing folder, corrupt file in strict
 * mode, malformed IDX file ...). Its message names the file and says what to do; a CLI prints
 * the message alone, without a stack trace.
 *
 * @module
 */

/**
 * A problem with the user's data, with a message that names the file and the fix.
 *
 * @example
 * ```ts
 * import { DataError } from "./data_error.ts";
 * throw new DataError(`data folder "x" does not exist: pass --data with an existing folder`);
 * ```
 */
export class DataError extends Error {
  /** Creates the error. @param message what is wrong, with which file, and the fix. */
  constructor(message: string) {
    super(message);
    this.name = "DataError";
  }
}
