// TEST ONLY: switches that break one safety mechanism each, so that the chaos suite can show its checkers
// report the matching invariant as violated (issue 5: "the checkers can fail"). Process-wide, off unless a
// JobManager is started with the VIGIL_UNSAFE_* environment variables (src/config/environment.ts), which
// it announces as an `unsafe-test-switch` event and a warning. Never for production.

let storeFencing = true;

/** Fenced writes no longer compare the writer's campaign key / latch node: a deposed leader's write lands. */
export function disableStoreFencingForTests(): void {
  storeFencing = false;
}

/** Undoes disableStoreFencingForTests (a test process that ran a broken run and goes on). */
export function restoreStoreFencingForTests(): void {
  storeFencing = true;
}

/** False only after disableStoreFencingForTests(). */
export function storeFencingEnabled(): boolean {
  return storeFencing;
}
