// The workloads by name (--workload).
import { InvalidArgumentError } from "../../src/common/errors.ts";
import { KeyedCountWorkload } from "./keyed-count.ts";
import { ShortJobsWorkload } from "./short-jobs.ts";
import type { Workload } from "./workload.ts";

export const WORKLOADS: Readonly<
  Record<string, { readonly description: string; create(runId: string): Workload }>
> = {
  "keyed-count": {
    description: "examples/keyed-count.ts under faults; exactly-once output checked at the end (I5-I8)",
    create: () => new KeyedCountWorkload(),
  },
  "short-jobs": {
    description: "many small jobs submitted, listed and cancelled by 3 clients (I3, I4, I9, I10)",
    create: (runId) => new ShortJobsWorkload(runId),
  },
};

export function workloadFor(name: string, runId: string): Workload {
  const w = WORKLOADS[name];
  if (!w) {
    throw new InvalidArgumentError(
      `unknown workload "${name}"; valid names: ${Object.keys(WORKLOADS).join(", ")}`,
    );
  }
  return w.create(runId);
}
