// I10 — after cancel or finish, the job's HA records and blobs are gone within a bound.
// For every job terminal at T (see timeline.terminalTimes) with T + cleanupMs < final.at: no HA-store key names
// it and no blob name contains it. Store keys are matched by whole path segment ("jobgraphs/<job>",
// "jobs/<job>/…", ZooKeeper's empty parent nodes included); "job-results/<job>" is exempt — the job's result
// must outlive it, or a new leader would run it again (I9). Blob names are matched where the id is not part of
// a longer alphanumeric run ("artifact-j1-…" names j1, not j10). An unreadable store or blob directory
// (undefined) is undecidable when some job is due.
import type { Checker, CheckInput } from "../types.ts";
import { Findings, ms } from "./findings.ts";
import { ofKind, terminalTimes } from "./timeline.ts";

const EXEMPT_ROOT = "job-results";

export const i10Cleanup: Checker = {
  id: "I10",
  name: "terminal jobs cleaned up",
  check(input: CheckInput) {
    const { final, bounds } = input;
    const f = new Findings();
    const terminal = [...terminalTimes(input)];
    const due = terminal.filter(([, t]) => t.at + bounds.cleanupMs < final.at);
    if (due.length > 0 && final.storeKeys === undefined)
      f.undecided("the HA store could not be read at the end");
    if (due.length > 0 && final.blobs === undefined)
      f.undecided("the blob directory could not be read at the end");
    for (const [job, t] of due) {
      const keys = (final.storeKeys ?? []).filter((k) => namesJobKey(k, job));
      const blobs = (final.blobs ?? []).filter((b) => containsId(b, job));
      if (keys.length + blobs.length === 0) continue;
      const left = [...keys.map((k) => `key ${k}`), ...blobs.map((b) => `blob ${b}`)];
      const shown = left.slice(0, 3).join(", ") + (left.length > 3 ? `, … (${left.length} in all)` : "");
      f.problem(
        `job ${job} terminal since ${ms(t.at)} (${t.why}), ${Math.round(final.at - t.at)} ms before the final ` +
          `read (bound ${bounds.cleanupMs} ms), still has ${shown}`,
      );
    }
    f.evidence(
      `${due.length} terminal jobs due for cleanup checked; ${terminal.length - due.length} ended too recently`,
    );
    f.evidence(`${ofKind(input.events, "job-cleaned").length} job-cleaned events`);
    return f.verdict(i10Cleanup);
  },
};

export function namesJobKey(key: string, job: string): boolean {
  const segments = key.split("/").filter((s) => s !== "");
  return segments[0] !== EXEMPT_ROOT && segments.includes(job);
}

export function containsId(name: string, id: string): boolean {
  const alnum = /[A-Za-z0-9]/;
  for (let i = name.indexOf(id); i >= 0; i = name.indexOf(id, i + 1)) {
    const before = name[i - 1];
    const after = name[i + id.length];
    if ((before === undefined || !alnum.test(before)) && (after === undefined || !alnum.test(after)))
      return true;
  }
  return false;
}
