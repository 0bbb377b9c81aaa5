import { describe, expect, it } from "vitest";
import {
  clusterIdOf,
  flagValue,
  jobManagerArgs,
  parseCmdline,
  parseEnviron,
  type ProcessView,
} from "./jobmanagers.ts";

const TSX = "file:///work/main/node_modules/tsx/dist/loader.mjs";

describe("parseCmdline / parseEnviron", () => {
  it("splits NUL-separated argv, keeping empty arguments", () => {
    expect(parseCmdline("node\0main.ts\0jobmanager\0--name\0\0")).toEqual([
      "node",
      "main.ts",
      "jobmanager",
      "--name",
      "",
    ]);
    expect(parseCmdline("")).toEqual([]);
  });

  it("reads KEY=VALUE entries; values may contain '='", () => {
    expect(parseEnviron("A=1\0VIGIL_CLUSTER_ID=prod\0X=a=b\0junk\0")).toEqual({
      A: "1",
      VIGIL_CLUSTER_ID: "prod",
      X: "a=b",
    });
  });
});

describe("jobManagerArgs", () => {
  it("recognises vigil's entry points running the jobmanager subcommand", () => {
    const tail = ["--cluster-id", "c1", "--rpc-port", "0"];
    expect(
      jobManagerArgs(["/usr/bin/node", "--import", TSX, "/work/main/src/cli/main.ts", "jobmanager", ...tail]),
    ).toEqual(tail);
    expect(jobManagerArgs(["node", "/usr/local/bin/vigil", "jobmanager", ...tail])).toEqual(tail);
    expect(jobManagerArgs(["node", "/opt/vigil/bin/vigil.js", "jobmanager"])).toEqual([]);
    expect(jobManagerArgs(["vigil", "jobmanager", "--config", "x.yaml"])).toEqual(["--config", "x.yaml"]);
  });

  it("ignores other vigil commands and other programs", () => {
    expect(
      jobManagerArgs(["node", "/usr/local/bin/vigil", "taskmanager", "--cluster-id", "c1"]),
    ).toBeUndefined();
    expect(jobManagerArgs(["node", "bin/vigil.js", "drill", "--cluster-id", "c1"])).toBeUndefined();
    expect(jobManagerArgs(["node", "/srv/other/main.ts", "jobmanager"])).toBeUndefined();
    expect(jobManagerArgs(["java", "-cp", "flink.jar", "jobmanager"])).toBeUndefined();
    expect(jobManagerArgs(["sh", "-c", "vigil jobmanager --cluster-id c1"])).toBeUndefined();
  });
});

describe("flagValue", () => {
  it("reads --flag V and --flag=V, the last one winning, up to --", () => {
    expect(flagValue(["--cluster-id", "a"], "cluster-id")).toBe("a");
    expect(flagValue(["--cluster-id=b"], "cluster-id")).toBe("b");
    expect(flagValue(["--cluster-id", "a", "--cluster-id=b"], "cluster-id")).toBe("b");
    expect(flagValue(["--cluster-idx", "a"], "cluster-id")).toBeUndefined();
    expect(flagValue(["--", "--cluster-id", "a"], "cluster-id")).toBeUndefined();
  });
});

describe("clusterIdOf", () => {
  const files: Record<string, string> = {
    "/srv/a/vigil.yaml": "ha: etcd\ncluster-id: from-default-file\n",
    "/etc/vigil/prod.yaml": "cluster-id: from-named-file\n",
    "/srv/c/vigil.yaml": "ha: etcd\n",
  };
  const readFile = (path: string): string => {
    if (path === "/secret/vigil.yaml") throw Object.assign(new Error("EACCES"), { code: "EACCES" });
    const text = files[path];
    if (text === undefined) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
    return text;
  };
  const view = (over: Partial<ProcessView>): ProcessView => ({
    pid: 7,
    args: [],
    env: {},
    cwd: "/srv/a",
    readFile,
    ...over,
  });

  it("takes the flag first, then VIGIL_CLUSTER_ID, then the config file, as the JobManager does", () => {
    const env = { VIGIL_CLUSTER_ID: "from-env" };
    expect(clusterIdOf(view({ args: ["--cluster-id", "from-flag"], env }))).toEqual({
      clusterId: "from-flag",
    });
    expect(clusterIdOf(view({ env }))).toEqual({ clusterId: "from-env" });
    expect(clusterIdOf(view({}))).toEqual({ clusterId: "from-default-file" });
    expect(clusterIdOf(view({ args: ["--config", "/etc/vigil/prod.yaml"] }))).toEqual({
      clusterId: "from-named-file",
    });
    expect(clusterIdOf(view({ cwd: "/etc", env: { VIGIL_CONFIG: "vigil/prod.yaml" } }))).toEqual({
      clusterId: "from-named-file",
    });
  });

  it("says why when the cluster id cannot be told", () => {
    expect(clusterIdOf(view({ env: { error: "EACCES" } }))).toEqual({
      unknown: expect.stringMatching(
        /^JobManager pid 7: cannot read its environment \(EACCES\); run vigil drill as/,
      ),
    });
    expect(clusterIdOf(view({ cwd: "/secret" }))).toEqual({
      unknown: expect.stringContaining(
        "uses the config file /secret/vigil.yaml, which I cannot read (permission denied)",
      ),
    });
    expect(clusterIdOf(view({ cwd: { error: "EACCES" } }))).toEqual({
      unknown: expect.stringContaining("cannot read its working directory to find vigil.yaml"),
    });
    expect(clusterIdOf(view({ cwd: "/srv/b" }))).toEqual({
      unknown: "JobManager pid 7: no --cluster-id, no VIGIL_CLUSTER_ID and no /srv/b/vigil.yaml",
    });
    expect(clusterIdOf(view({ cwd: "/srv/c" }))).toEqual({
      unknown: "JobManager pid 7: its config file /srv/c/vigil.yaml has no cluster-id",
    });
    expect(clusterIdOf(view({ args: ["--config=missing.yaml"] }))).toEqual({
      unknown: expect.stringContaining(
        "uses the config file /srv/a/missing.yaml, which I cannot read (no such file)",
      ),
    });
  });
});
