import { describe, expect, it } from "vitest";
import { i2Recovery } from "./i2-recovery.ts";
import { type Call, cancel, events, fault, history, input, jm, submit } from "./testing.ts";

const j1 = jm("jm-1");
const j2 = jm("jm-2");

// recoveryMs 3000: the heal completes at 3100, so "a" must be RUNNING under the leader of 6100 by then.
const calls: Call[] = [
  submit(0, 200, 300, "a"),
  fault("kill-leader", 1000, 1050, { victims: ["jm-1"] }),
  fault("heal", 3000, 3100, { restarted: ["jm-1"] }),
];
const base = [
  j1.granted(100, 1),
  j1.state(250, "a", "CREATED", 1),
  j1.state(400, "a", "RUNNING", 1),
  j2.granted(2200, 2),
  j2.state(2300, "a", "CREATED", 2),
];
const recovered = [...base, j2.state(2500, "a", "RUNNING", 2)];
const running = { jobs: [{ job: "a", state: "JOB_STATE_RUNNING" }] };

describe("I2 jobs running again after the last heal", () => {
  it("holds when the new leader runs the job before the deadline and the listing agrees", () => {
    const v = i2Recovery.check(
      input({ history: history(...calls), events: events(...recovered), final: running }),
    );
    expect(v.valid).toBe(true);
    expect(v.evidence?.[0]).toBe("1 jobs that should run checked against 3000 ms after the last heal");
  });

  it("fails when the current leader never reports the job RUNNING (the old leader's RUNNING does not count)", () => {
    const v = i2Recovery.check(
      input({ history: history(...calls), events: events(...base), final: running }),
    );
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toMatch(
      /job a .*not RUNNING 3000 ms after the heal .*leader epoch 2 reported job-state CREATED/,
    );
  });

  it("fails when the job relapses into RESTARTING after recovering", () => {
    const relapse = [...recovered, j2.state(7000, "a", "RESTARTING", 2)];
    const v = i2Recovery.check(
      input({ history: history(...calls), events: events(...relapse), final: running }),
    );
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toContain("job-state RESTARTING of a epoch 2 (jm-2 at 7000) after recovering");
  });

  it("fails when the final listing disagrees", () => {
    const final = { jobs: [] };
    const v = i2Recovery.check(input({ history: history(...calls), events: events(...recovered), final }));
    expect(v.valid).toBe(false);
    expect(v.problems[0]).toContain("the final listing says nothing (not listed)");
  });

  it("does not require cancelled, finished or info-submitted jobs", () => {
    const more = [
      ...calls,
      submit(1, 400, 500, "b"),
      cancel(1, 600, 700, "b"),
      submit(2, 400, 500, "c"),
      submit(2, 600, 700, "d", "info"),
    ];
    const evs = [...recovered, j1.state(800, "c", "FINISHED", 1)];
    const v = i2Recovery.check(input({ history: history(...more), events: events(...evs), final: running }));
    expect(v.valid).toBe(true);
    expect(v.evidence).toContain("1 jobs excused: finished, or terminal before their deadline");
  });

  it("is unknown while a nemesis op never completed, or when the run ends before the deadline with the job not back", () => {
    const open: Call = { process: "nemesis", f: "heal", at: 3000, end: 0, type: "open" };
    const unhealed = input({
      history: history(calls[0]!, calls[1]!, open),
      events: events(...recovered),
      final: running,
    });
    expect(i2Recovery.check(unhealed).valid).toBe("unknown");
    const early = input({
      history: history(...calls),
      events: events(...base),
      final: { ...running, at: 5000 },
    });
    expect(i2Recovery.check(early).valid).toBe("unknown");
    // Back to RUNNING before the run ended (5000 < deadline 6100): the bound is met.
    const recoveredEarly = input({
      history: history(...calls),
      events: events(...recovered),
      final: { ...running, at: 5000 },
    });
    expect(i2Recovery.check(recoveredEarly).valid).toBe(true);
  });

  it("is unknown without a final listing", () => {
    const v = i2Recovery.check(
      input({ history: history(...calls), events: events(...recovered), final: { jobs: undefined } }),
    );
    expect(v.valid).toBe("unknown");
  });
});
