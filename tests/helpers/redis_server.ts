/**
 * A real Redis for the tests: Debian's `redis-server` started on a free loopback port with no
 * persistence, stopped at the end.
 *
 * @module
 */

/** A running redis-server. */
export interface RedisServer {
  /** redis://127.0.0.1:PORT */
  url: string;
  /** Its port. */
  port: number;
  /** Its process id (for SIGSTOP / SIGCONT). */
  pid: number;
  /** Stops it. */
  stop(): Promise<void>;
}

/** A loopback port that was free a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Starts redis-server on `port` (default: a free loopback port) and waits until it answers. */
export async function startRedis(port = freePort()): Promise<RedisServer> {
  const child = new Deno.Command("redis-server", {
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buf = new Uint8Array(16);
      const n = await conn.read(buf);
      conn.close();
      if (n && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG")) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await child.status;
      throw new Error(`redis-server did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    async stop() {
      try {
        child.kill("SIGCONT");
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    },
  };
}
