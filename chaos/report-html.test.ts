import { describe, expect, it } from "vitest";
import type { Op } from "./history.ts";
import { type ReportInput, renderReport } from "./report-html.ts";
import { escapeHtml } from "./report-html-timeline.ts";
import type { ClusterEvent } from "./types.ts";

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const EVIL = `<script>alert("x")</script>&'`;

function op(index: number, type: Op["type"], process: Op["process"], f: string, atS: number, extra = {}): Op {
  return { index, type, process, f, time: atS * 1000, at: T0 + atS * 1000, ...extra };
}

function ev(atS: number, source: string, event: string, fields: Record<string, unknown> = {}): ClusterEvent {
  return {
    at: T0 + atS * 1000,
    source,
    role: source.startsWith("tm") ? "taskmanager" : "jobmanager",
    event,
    ...fields,
  };
}

function sample(): ReportInput {
  const history: Op[] = [
    op(0, "invoke", 0, "submit", 1, { value: { job: "j1" } }),
    op(1, "invoke", "nemesis", "kill-leader", 2, { value: { phase: "inject" } }),
    op(2, "ok", "nemesis", "kill-leader", 2.1, { value: { victim: "jm-1" } }),
    op(3, "ok", 0, "submit", 3, { value: { job: "j1" } }),
    op(4, "invoke", 1, "cancel", 4),
    op(5, "invoke", "nemesis", "kill-leader", 7, { value: { phase: "heal" } }),
    op(6, "ok", "nemesis", "kill-leader", 7.5),
    op(7, "fail", 1, "cancel", 8, { error: `no leader ${EVIL}` }),
    op(8, "invoke", 0, "list", 9),
    op(9, "info", 0, "list", 12, { error: "deadline exceeded" }),
    op(10, "invoke", "nemesis", "pause-leader", 13, { value: { phase: "inject" } }),
    op(11, "ok", "nemesis", "pause-leader", 13.2),
    op(12, "invoke", 1, "submit", 14),
  ];
  const events: ClusterEvent[] = [
    ev(0.5, "jm-1", "granted", { epoch: "1", revision: "10" }),
    ev(1.2, "jm-1", "job-submitted", { job: "j1", epoch: "1" }),
    ev(1.3, "jm-1", "job-state", { job: "j1", state: "CREATED", epoch: "1" }),
    ev(1.5, "jm-1", "job-state", { job: "j1", state: "RUNNING", epoch: "1" }),
    ev(1.8, "jm-1", "checkpoint-completed", { job: "j1", checkpoint: "1", epoch: "1", durationMs: 40 }),
    ev(4.5, "jm-2", "granted", { epoch: "2", revision: "15" }),
    ev(4.9, "jm-2", "job-state", { job: "j1", state: "RESTARTING", epoch: "2" }),
    ev(5.5, "jm-2", "job-state", { job: "j1", state: "RUNNING", epoch: "2" }),
    ev(6, "jm-2", "checkpoint-completed", { job: "j1", checkpoint: "2", epoch: "2", durationMs: 35 }),
    ev(6.5, "jm-2", "job-state", { job: EVIL, state: "CREATED", epoch: "2" }),
    ev(7, "jm-2", "job-state", { job: EVIL, state: "CANCELED", epoch: "2" }),
    ev(8, "jm-2", "checkpoint-aborted", { job: "j1", checkpoint: "3", epoch: "2", reason: "tm lost" }),
    ev(16, "jm-2", "revoked", { epoch: "2", reason: EVIL }),
    ev(16.5, "jm-3", "granted", { epoch: "3", revision: "20" }),
  ];
  return {
    title: `vigil chaos ${EVIL}`,
    workload: "keyed-count",
    backend: "etcd",
    nemesis: ["kill-leader", "pause-leader"],
    seed: "s-42",
    command: `vigil chaos --backend etcd --workload keyed-count --nemesis kill-leader,pause-leader --seed 's-42' # ${EVIL}`,
    verdicts: [
      {
        id: "I1",
        name: "one leader at a time, fenced",
        valid: true,
        problems: [],
        evidence: ["2 stale writes refused"],
      },
      { id: "I2", name: "jobs recover", valid: false, problems: [`job ${EVIL} not RUNNING at 12.0 s`] },
      { id: "I7", name: "exactly-once", valid: "unknown", problems: ["checker threw: boom"] },
    ],
    overall: false,
    failover: {
      columns: ["fault", "n", "new leader p50 (ms)", "job running p50 (ms)"],
      rows: [["kill-leader", 1, 2400, 3400]],
    },
    history,
    events,
    startedAt: T0,
    endedAt: T0 + 20_000,
  };
}

describe("renderReport", () => {
  const html = renderReport(sample());

  it("is one self-contained document with exactly one SVG and no script", () => {
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html.trimEnd().endsWith("</html>")).toBe(true);
    expect(html.match(/<svg/g)).toHaveLength(1);
    expect(html.match(/<\/svg>/g)).toHaveLength(1);
    expect(html.toLowerCase()).not.toContain("<script");
    expect(html).not.toMatch(/\b(src|href)=/);
    expect(html).not.toMatch(/\son[a-z]+=/);
  });

  it("escapes every string from the run", () => {
    const escaped = escapeHtml(EVIL);
    expect(escaped).toBe("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;");
    expect(html).toContain(`<title>vigil chaos ${escaped}</title>`);
    expect(html).toContain(`<h1>vigil chaos ${escaped}`);
    expect(html).toContain(`# ${escaped}</code></pre>`); // the command
    expect(html).toContain(`<li>job ${escaped} not RUNNING at 12.0 s</li>`); // a problem
    expect(html).toContain(`no leader ${escaped}`); // an op's error, in a hover title
    expect(html).toContain(`revoked: ${escaped}`); // an event's field
  });

  it("shows the header and one row per verdict", () => {
    expect(html).toContain('<span class="badge invalid">INVALID</span>');
    for (const text of [
      "keyed-count",
      "etcd",
      "<code>kill-leader</code>, <code>pause-leader</code>",
      "s-42",
    ]) {
      expect(html).toContain(text);
    }
    expect(html.match(/<tr class="verdict /g)).toHaveLength(3);
    expect(html).toContain('<tr class="verdict valid"><td>I1</td>');
    expect(html).toContain('<tr class="verdict invalid"><td>I2</td>');
    expect(html).toContain('<tr class="verdict unknown"><td>I7</td>');
    expect(html).toContain("<li>2 stale writes refused</li>");
    expect(html).toContain("<td>kill-leader</td><td>1</td><td>2400</td><td>3400</td>");
  });

  it("draws leaders by epoch, faults, checkpoints, job states and client ops on the timeline", () => {
    for (const lane of [
      "epoch 1 · jm-1",
      "epoch 2 · jm-2",
      "epoch 3 · jm-3",
      "nemesis",
      "client 0",
      "client 1",
    ]) {
      expect(html).toContain(`>${lane}</text>`);
    }
    expect(html).toContain("jm-2 led epoch 2 from 10:00:04.500 to 10:00:16.000");
    // Killed (no revoke): its bar ends where the next leader was granted.
    expect(html).toContain(
      "jm-1 led epoch 1 from 10:00:00.500; no revoke seen: jm-2 was granted at 10:00:04.500",
    );
    expect(html).toContain("kill-leader: injected 10:00:02.000 (ok), healed 10:00:07.500");
    expect(html).toContain("pause-leader: injected 10:00:13.000 (ok), never healed");
    expect(html).toContain("job j1 checkpoint 2 completed at 10:00:06.000 (epoch 2, jm-2, 35 ms)");
    expect(html).toContain("job j1 checkpoint 3 aborted");
    expect(html).toContain("job j1: RESTARTING from 10:00:04.900 (epoch 2, jm-2)");
    expect(html).toContain("op 4 cancel → fail (op 7): no leader");
    expect(html).toContain("op 12 submit → no completion");
    // ok, fail and info ops each get a dot in their colour; the open one a hollow dot.
    expect(html.match(/<circle /g)).toHaveLength(4);
    expect(html.match(/<circle [^>]*fill="#fff" stroke="#e8a23a">/g)).toHaveLength(1);
  });

  it("counts operations", () => {
    expect(html).toContain("<td>submit</td><td>2</td><td>1</td><td>0</td><td>0</td><td>1</td>");
    expect(html).toContain(
      "<td>kill-leader (nemesis)</td><td>2</td><td>2</td><td>0</td><td>0</td><td>0</td>",
    );
  });

  it("renders an empty run", () => {
    const empty = renderReport({
      ...sample(),
      verdicts: [],
      overall: "unknown",
      failover: { columns: [], rows: [] },
      history: [],
      events: [],
    });
    expect(empty).toContain('<span class="badge unknown">unknown</span>');
    expect(empty).toContain("no checkers ran");
    expect(empty).toContain("no failover measured");
    expect(empty.match(/<svg/g)).toHaveLength(1);
  });
});
