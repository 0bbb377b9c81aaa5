// Real ZooKeeper 3.8 servers (standalone or a three-server ensemble) on loopback for tests.
import { mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { HarnessCluster, type ServerCluster } from "./cluster.ts";
import { Member } from "./member.ts";
import { freePorts } from "./ports.ts";
import { Registration } from "./registry.ts";
import { makeTempDir, startWithRetry } from "./start.ts";

const JAVA = "/usr/bin/java";
const JARS = "/usr/share/java";
/** ZooKeeper and its runtime deps as Debian ships them; slf4j-log4j12 + log4j-1.2 give us file logs. */
export const ZOOKEEPER_CLASSPATH = [
  "zookeeper.jar",
  "zookeeper-jute.jar",
  "slf4j-api.jar",
  "slf4j-log4j12.jar",
  "log4j-1.2.jar",
  "netty-handler.jar",
  "netty-common.jar",
  "netty-buffer.jar",
  "netty-transport.jar",
  "netty-transport-native-epoll.jar",
  "netty-transport-native-unix-common.jar",
  "netty-resolver.jar",
  "netty-codec.jar",
  "metrics-core.jar",
  "snappy-java.jar",
  "commons-cli.jar",
  "commons-io.jar",
]
  .map((jar) => join(JARS, jar))
  .join(":");

export function startZooKeeper(
  options: { servers?: 1 | 3; tickTimeMs?: number } = {},
): Promise<ServerCluster> {
  const size = options.servers ?? 1;
  const tickTimeMs = options.tickTimeMs ?? 1_000;
  return startWithRetry(() => buildZooKeeper(size, tickTimeMs));
}

async function buildZooKeeper(size: number, tickTimeMs: number): Promise<HarnessCluster> {
  const ports = await freePorts(size * 3);
  const client = (i: number) => ports[3 * i]!;
  const quorum = (i: number) => ports[3 * i + 1]!;
  const election = (i: number) => ports[3 * i + 2]!;
  const registration = new Registration(`zookeeper x${size}`);
  const dir = makeTempDir(registration);
  // Server ids are 1-based in ZooKeeper; member i is server i+1.
  const serverLines =
    size === 1
      ? []
      : Array.from({ length: size }, (_, i) => `server.${i + 1}=127.0.0.1:${quorum(i)}:${election(i)}`);
  const members = Array.from({ length: size }, (_, i) => {
    const home = join(dir, `s${i}`);
    const data = join(home, "data");
    mkdirSync(data, { recursive: true });
    if (size > 1) writeFileSync(join(data, "myid"), `${i + 1}\n`);
    const cfg = join(home, "zoo.cfg");
    writeFileSync(
      cfg,
      [
        `tickTime=${tickTimeMs}`,
        `dataDir=${data}`,
        `clientPort=${client(i)}`,
        "clientPortAddress=127.0.0.1",
        // Sessions may be 2..20 ticks, the server's own default bounds, stated so tests can rely on them.
        `minSessionTimeout=${2 * tickTimeMs}`,
        `maxSessionTimeout=${20 * tickTimeMs}`,
        "initLimit=10",
        "syncLimit=5",
        "maxClientCnxns=0",
        "admin.enableServer=false",
        "4lw.commands.whitelist=*",
        "autopurge.purgeInterval=0",
        ...serverLines,
        "",
      ].join("\n"),
    );
    const zkLog = join(home, "zookeeper.log");
    const log4j = join(home, "log4j.properties");
    writeFileSync(
      log4j,
      [
        "log4j.rootLogger=INFO, FILE",
        "log4j.appender.FILE=org.apache.log4j.FileAppender",
        `log4j.appender.FILE.File=${zkLog}`,
        "log4j.appender.FILE.Append=true",
        "log4j.appender.FILE.layout=org.apache.log4j.PatternLayout",
        "log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1}: %m%n",
        "",
      ].join("\n"),
    );
    const args = [
      "-Xmx128m",
      // Start-up speed on a two-core machine: no JIT tiers beyond C1, one GC thread.
      "-XX:TieredStopAtLevel=1",
      "-XX:+UseSerialGC",
      "-Djava.net.preferIPv4Stack=true",
      `-Dlog4j.configuration=file:${log4j}`,
      "-Dzookeeper.admin.enableServer=false",
      "-cp",
      ZOOKEEPER_CLASSPATH,
      "org.apache.zookeeper.server.quorum.QuorumPeerMain",
      cfg,
    ];
    return new Member(
      { command: JAVA, args, cwd: home, outFile: join(home, "stdout.log"), extraLogs: [zkLog], marker: dir },
      registration,
    );
  });
  const endpoints = Array.from({ length: size }, (_, i) => `127.0.0.1:${client(i)}`);
  return new HarnessCluster({
    kind: "zookeeper",
    endpoints,
    members,
    registration,
    dir,
    probe: (i, t) => srvrMode(client(i), t),
    // Right after the leader dies its followers still say "follower" for a moment: wait for a new leader.
    requireLeader: true,
  });
}

/** `srvr` shows "Mode: standalone|leader|follower" only while the server is part of a serving quorum. */
function srvrMode(port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise<string | undefined>((resolve) => {
    let out = "";
    const socket = connect({ host: "127.0.0.1", port });
    socket.setEncoding("utf8");
    socket.setTimeout(timeoutMs);
    socket.on("connect", () => socket.end("srvr"));
    socket.on("data", (chunk: string) => {
      out += chunk;
    });
    socket.on("timeout", () => socket.destroy());
    socket.on("error", () => {}); // Settled by `close`.
    socket.on("close", () => resolve(/^Mode: (\w+)/m.exec(out)?.[1]));
  });
}
