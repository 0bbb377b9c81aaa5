// Free loopback ports for servers under test.
import { type AddressInfo, createServer, type Server } from "node:net";

/**
 * Returns `count` distinct free ports on 127.0.0.1. All probes are held open together so one call never
 * hands out the same port twice; another process can still take a port before the server binds it,
 * which is why the cluster starters retry on "address in use".
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const s = createServer();
      servers.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => resolve());
      });
    }
    return servers.map((s) => (s.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
