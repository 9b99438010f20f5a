/** Types of track_log.mjs (shared by the Deno and the Node side of the bench). */
export function runLogBench(
  init: (options: Record<string, unknown>) => Promise<{
    log(values: Record<string, number>): void;
    finish(): Promise<void>;
    dir: string;
  }>,
  runsDir: string,
  seconds: number,
): Promise<{
  calls: number;
  seconds: number;
  callsPerS: number;
  loopCallsPerS: number;
  bytes: number;
  bytesPerS: number;
}>;
