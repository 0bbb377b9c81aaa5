import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connectHost, listeningSocketsOf, ownerOfPort, parseProcNetTcp, socketInodeOf } from "./proc-net.ts";

const HEADER =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
const HEADER6 =
  "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

/** One /proc/net/tcp line: local address, state and inode; the other columns as the kernel prints them. */
function line(sl: number, local: string, st: string, inode: number, remote = "00000000:0000"): string {
  return `  ${sl}: ${local} ${remote} ${st} 00000000:00000000 00:00000000 00000000  1000        0 ${inode} 1 0000000000000000 100 0 0 10 0`;
}

describe("parseProcNetTcp", () => {
  it("reads LISTEN sockets of IPv4 in little-endian word order, and skips the header and other states", () => {
    const text = [
      HEADER,
      line(0, "0100007F:1F90", "0A", 1193926),
      line(1, "00000000:18EB", "0A", 1194928),
      line(2, "0100007F:1F90", "01", 2222, "0100007F:C350"),
      line(3, "0100007F:A09F", "06", 3333),
      "",
    ].join("\n");
    expect(parseProcNetTcp(text, "LE")).toEqual([
      { address: "127.0.0.1", port: 8080, inode: "1193926" },
      { address: "0.0.0.0", port: 6379, inode: "1194928" },
    ]);
  });

  it("reads addresses in big-endian word order when the host is big-endian", () => {
    expect(parseProcNetTcp(line(0, "7F000001:0050", "0A", 42), "BE")).toEqual([
      { address: "127.0.0.1", port: 80, inode: "42" },
    ]);
    expect(parseProcNetTcp(line(0, "C0A80102:0050", "0A", 43), "BE")[0]?.address).toBe("192.168.1.2");
    expect(parseProcNetTcp(line(0, "0201A8C0:0050", "0A", 43), "LE")[0]?.address).toBe("192.168.1.2");
  });

  it("reads IPv6 LISTEN sockets: loopback, wildcard, IPv4-mapped and link-local", () => {
    const text = [
      HEADER6,
      line(0, "00000000000000000000000001000000:1F90", "0A", 11, "00000000000000000000000000000000:0000"),
      line(1, "00000000000000000000000000000000:0050", "0A", 12, "00000000000000000000000000000000:0000"),
      line(2, "0000000000000000FFFF00000100007F:17E3", "0A", 13, "00000000000000000000000000000000:0000"),
      line(3, "000080FE00000000020001000400030:0016", "0A", 14, "00000000000000000000000000000000:0000"),
      line(4, "000080FE000000000200010004000300:0016", "0A", 15, "00000000000000000000000000000000:0000"),
    ].join("\n");
    expect(parseProcNetTcp(text, "LE")).toEqual([
      { address: "::1", port: 8080, inode: "11" },
      { address: "::", port: 80, inode: "12" },
      { address: "::ffff:7f00:1", port: 6115, inode: "13" },
      // Line 3 has a 31-digit address: malformed, skipped.
      { address: "fe80::1:2:3:4", port: 22, inode: "15" },
    ]);
  });

  it("skips malformed lines instead of inventing sockets", () => {
    const text = [
      "garbage",
      "  0: 0100007F 00000000:0000 0A 0 0 0 0 0 77",
      "  1: ZZ00007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 78 1",
      "  2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 notanumber 1",
      "  x: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 79 1",
    ].join("\n");
    expect(parseProcNetTcp(text, "LE")).toEqual([]);
  });
});

describe("socketInodeOf / connectHost", () => {
  it("takes the inode only from socket links", () => {
    expect(socketInodeOf("socket:[1193926]")).toBe("1193926");
    expect(socketInodeOf("pipe:[1193926]")).toBeUndefined();
    expect(socketInodeOf("anon_inode:[eventpoll]")).toBeUndefined();
    expect(socketInodeOf("/dev/null")).toBeUndefined();
  });

  it("connects to a wildcard bind through loopback and brackets IPv6", () => {
    expect(connectHost("0.0.0.0")).toBe("127.0.0.1");
    expect(connectHost("::")).toBe("[::1]");
    expect(connectHost("::1")).toBe("[::1]");
    expect(connectHost("10.0.0.7")).toBe("10.0.0.7");
  });
});

describe("ownerOfPort on a hand-made /proc", () => {
  const root = mkdtempSync(join(tmpdir(), "vigil-drill-proc-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, "net"));
  writeFileSync(
    join(root, "net/tcp"),
    [HEADER, line(0, "0100007F:1F90", "0A", 500), line(1, "0100007F:1F91", "0A", 600)].join("\n"),
  );
  // No tcp6: a kernel without IPv6.
  const proc = (pid: number, links: string[]): void => {
    mkdirSync(join(root, String(pid), "fd"), { recursive: true });
    for (const [fd, target] of links.entries())
      symlinkSync(target, join(root, String(pid), "fd", String(fd)));
  };
  proc(100, ["/dev/null", "socket:[400]", "pipe:[7]"]);
  proc(200, ["/dev/null", "socket:[500]"]);
  proc(300, ["socket:[600]", "socket:[601]"]);
  mkdirSync(join(root, "self"));

  it("finds the process holding the LISTEN socket of a port", () => {
    expect(ownerOfPort(8080, [], root)).toEqual({ pid: 200, listening: true, unreadable: 0 });
    expect(ownerOfPort(8081, [300], root)).toEqual({ pid: 300, listening: true, unreadable: 0 });
  });

  it("says when nothing listens on the port at all", () => {
    expect(ownerOfPort(9999, [], root)).toEqual({ pid: undefined, listening: false, unreadable: 0 });
  });

  it("lists a process's LISTEN sockets", () => {
    expect(listeningSocketsOf(300, root)).toEqual([{ address: "127.0.0.1", port: 8081, inode: "600" }]);
    expect(listeningSocketsOf(100, root)).toEqual([]);
    expect(listeningSocketsOf(999, root)).toEqual([]);
  });
});

describe("ownerOfPort on this host's /proc", () => {
  let server: Server | undefined;
  afterAll(() => server?.close());

  it("finds this very process listening on a loopback port", async () => {
    server = createServer();
    const s = server;
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    const { port } = s.address() as { port: number };
    expect(ownerOfPort(port, [process.pid])).toMatchObject({ pid: process.pid, listening: true });
    expect(listeningSocketsOf(process.pid).map((x) => x.port)).toContain(port);
  });
});
