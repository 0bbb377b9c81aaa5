// Which process listens on a TCP port, from Linux /proc: the LISTEN sockets of /proc/net/tcp{,6} carry an
// inode, and a process's /proc/PID/fd links to "socket:[inode]" for each socket it holds. The leader publishes
// only an address; this is how vigil drill turns it into a PID it can signal.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { endianness } from "node:os";

export interface ListeningSocket {
  /** The bound address as text ("127.0.0.1", "0.0.0.0", "::1", "::"). */
  readonly address: string;
  readonly port: number;
  /** The socket's inode number, as /proc prints it. */
  readonly inode: string;
}

/** st = 0A in /proc/net/tcp: TCP_LISTEN. */
const LISTEN = "0A";

/**
 * The LISTEN sockets of one /proc/net/tcp or /proc/net/tcp6 text; other states, the header and malformed
 * lines are skipped. The kernel prints each 32-bit word of an address in host byte order (`order`).
 */
export function parseProcNetTcp(text: string, order: "LE" | "BE" = endianness()): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of text.split("\n")) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || !/^\d+:$/.test(fields[0]!) || fields[3] !== LISTEN) continue;
    const [addressHex, portHex] = fields[1]!.split(":");
    const inode = fields[9]!;
    if (addressHex === undefined || portHex === undefined || !/^\d+$/.test(inode)) continue;
    const address = decodeAddress(addressHex, order);
    const port = Number.parseInt(portHex, 16);
    if (address === undefined || !/^[0-9A-Fa-f]{4}$/.test(portHex)) continue;
    out.push({ address, port, inode });
  }
  return out;
}

/** "socket:[12345]" → "12345"; undefined for any other fd link (files, pipes, anon inodes). */
export function socketInodeOf(link: string): string | undefined {
  return /^socket:\[(\d+)\]$/.exec(link)?.[1];
}

/** A host to connect to for a socket bound to `address` (a wildcard bind answers on loopback). */
export function connectHost(address: string): string {
  if (address === "0.0.0.0") return "127.0.0.1";
  if (address === "::") return "[::1]";
  return address.includes(":") ? `[${address}]` : address;
}

/** Every LISTEN socket of this host's network namespace (IPv4 and IPv6). */
export function readListeningSockets(proc = "/proc"): ListeningSocket[] {
  return ["tcp", "tcp6"].flatMap((file) => {
    try {
      return parseProcNetTcp(readFileSync(`${proc}/net/${file}`, "utf8"));
    } catch (e: unknown) {
      // A kernel without IPv6 has no tcp6.
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
  });
}

/**
 * The socket inodes `pid` holds, or undefined when its fds cannot be listed (gone, or another user's process
 * without privileges); `why` receives the errno code then.
 */
export function socketInodesOf(
  pid: number,
  proc = "/proc",
  why?: (code: string) => void,
): Set<string> | undefined {
  let fds: string[];
  try {
    fds = readdirSync(`${proc}/${pid}/fd`);
  } catch (e: unknown) {
    why?.((e as NodeJS.ErrnoException).code ?? "unknown");
    return undefined;
  }
  const inodes = new Set<string>();
  for (const fd of fds) {
    try {
      const inode = socketInodeOf(readlinkSync(`${proc}/${pid}/fd/${fd}`));
      if (inode !== undefined) inodes.add(inode);
    } catch {
      // Closed between readdir and readlink.
    }
  }
  return inodes;
}

/** The LISTEN sockets held by `pid` (empty when none, or when its fds cannot be read). */
export function listeningSocketsOf(pid: number, proc = "/proc"): ListeningSocket[] {
  const inodes = socketInodesOf(pid, proc);
  if (!inodes) return [];
  return readListeningSockets(proc).filter((s) => inodes.has(s.inode));
}

export interface PortOwner {
  /** The process listening on the port, when found. */
  readonly pid: number | undefined;
  /** Whether anything on this host listens on the port at all. */
  readonly listening: boolean;
  /** How many processes' fds could not be read (EACCES): the owner may be among them. */
  readonly unreadable: number;
}

/** The process listening on `port`, looking at `first` (likely owners) before every other process. */
export function ownerOfPort(port: number, first: readonly number[] = [], proc = "/proc"): PortOwner {
  const inodes = new Set(
    readListeningSockets(proc)
      .filter((s) => s.port === port)
      .map((s) => s.inode),
  );
  if (inodes.size === 0) return { pid: undefined, listening: false, unreadable: 0 };
  let unreadable = 0;
  const others = allPids(proc).filter((p) => !first.includes(p));
  for (const pid of [...first, ...others]) {
    const held = socketInodesOf(pid, proc, (code) => {
      if (code === "EACCES" || code === "EPERM") unreadable++;
    });
    if (held && [...inodes].some((i) => held.has(i))) return { pid, listening: true, unreadable };
  }
  return { pid: undefined, listening: true, unreadable };
}

/** Every numeric entry of /proc. */
export function allPids(proc = "/proc"): number[] {
  return readdirSync(proc)
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

function decodeAddress(hex: string, order: "LE" | "BE"): string | undefined {
  if (!/^[0-9A-Fa-f]+$/.test(hex) || (hex.length !== 8 && hex.length !== 32)) return undefined;
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word = [0, 2, 4, 6].map((i) => Number.parseInt(hex.slice(w + i, w + i + 2), 16));
    bytes.push(...(order === "LE" ? word.reverse() : word));
  }
  if (bytes.length === 4) return bytes.join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // The URL parser prints an IPv6 address in its canonical compressed form.
  return new URL(`http://[${groups.join(":")}]`).hostname.slice(1, -1);
}
