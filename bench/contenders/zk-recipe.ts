// Baseline contender: the plain ZooKeeper leader-election recipe on node-zookeeper-client, nothing added.
// Each contender creates an EPHEMERAL_SEQUENTIAL node under --path; the lowest sequence leads; the others
// watch only their predecessor (exists-watch) and re-check when it goes. Prints JSON lines like `vigil
// elect`: campaigning (node created), elected, error. SIGTERM closes the session (its node goes at once).
//
//   node --import tsx bench/contenders/zk-recipe.ts --endpoints H:P[,…] --path /p --name N --timeout-ms 2000
import { parseArgs } from "node:util";
import zookeeper from "node-zookeeper-client";

const { values } = parseArgs({
  options: {
    endpoints: { type: "string" },
    path: { type: "string" },
    name: { type: "string" },
    "timeout-ms": { type: "string", default: "2000" },
  },
});
if (!values.endpoints || !values.path || !values.name) {
  process.stderr.write("usage: zk-recipe.ts --endpoints H:P[,…] --path /p --name N [--timeout-ms MS]\n");
  process.exit(2);
}
const name = values.name;
const dir = values.path;
const emit = (event: string, extra: Record<string, unknown> = {}): void => {
  process.stdout.write(JSON.stringify({ event, name, ...extra }) + "\n");
};
const fail = (what: string, e: Error | zookeeper.Exception | null | undefined): boolean => {
  if (!e) return false;
  emit("error", { message: `${what}: ${e.toString()}` });
  return true;
};

const client = zookeeper.createClient(values.endpoints, {
  sessionTimeout: Number(values["timeout-ms"]),
  spinDelay: 100,
  retries: 0,
});
let myNode = "";
let elected = false;

function check(): void {
  client.getChildren(dir, (e, children) => {
    if (fail("getChildren", e)) return;
    const sorted = children.filter((c) => c.startsWith("n-")).sort();
    const index = sorted.indexOf(myNode);
    if (index < 0) {
      emit("error", { message: `own node ${myNode} is gone` });
      return;
    }
    if (index === 0) {
      if (!elected) emit("elected", { node: myNode });
      elected = true;
      return;
    }
    const predecessor = `${dir}/${sorted[index - 1]}`;
    // exists() sets the watch and answers in one round trip; if the predecessor vanished in between, look again.
    client.exists(
      predecessor,
      () => check(),
      (e2, stat) => {
        if (fail("exists", e2)) return;
        if (!stat) check();
      },
    );
  });
}

client.once("connected", () => {
  client.mkdirp(dir, (e) => {
    if (fail("mkdirp", e)) return;
    client.create(`${dir}/n-`, Buffer.from(name), zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL, (e2, path) => {
      if (fail("create", e2)) return;
      myNode = path.slice(dir.length + 1);
      emit("campaigning", { node: myNode, sessionTimeoutMs: client.getSessionTimeout() });
      check();
    });
  });
});
client.on("state", (s) => {
  if (s === zookeeper.State.EXPIRED) emit("error", { message: "session expired" });
});
client.connect();

const stop = (): void => {
  client.once("disconnected", () => process.exit(0));
  client.close();
  setTimeout(() => process.exit(0), 1000).unref();
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
