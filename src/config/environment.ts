// The only reads of process.env in vigil. Everything else gets these values passed in.

/** Set by the integration-test globalSetup; child processes and servers of that run carry it in their records. */
export const TEST_RUN_ID_ENV = "VIGIL_HA_RUN_ID";

/** Where the JobManager / TaskManager config file is when --config is not given. */
export const CONFIG_FILE_ENV = "VIGIL_CONFIG";

/**
 * VIGIL_* variables that are not configuration keys: vigil sets or reads them for its own machinery. The
 * process configuration ignores them instead of rejecting them as unknown keys.
 */
/**
 * TEST ONLY: each breaks one safety mechanism of a JobManager, so that the chaos suite can show that its
 * checkers catch the breakage (src/ha/test-switches.ts). Never set them in production.
 */
export const UNSAFE_ENV = {
  disableStoreFencing: "VIGIL_UNSAFE_DISABLE_STORE_FENCING",
  disableZombieGuard: "VIGIL_UNSAFE_DISABLE_ZOMBIE_GUARD",
  ackBeforeStoreMs: "VIGIL_UNSAFE_ACK_BEFORE_STORE_MS",
} as const;

export const INTERNAL_ENV: readonly string[] = [
  TEST_RUN_ID_ENV,
  CONFIG_FILE_ENV,
  ...Object.values(UNSAFE_ENV),
];

export interface UnsafeTestSwitches {
  readonly disableStoreFencing: boolean;
  readonly disableZombieGuard: boolean;
  /** Acknowledge submissions this many ms before storing them; undefined: store first (always, outside tests). */
  readonly ackBeforeStoreMs: number | undefined;
}

/** The unsafe test switches set in this process's environment ("1" turns a boolean one on). */
export function unsafeTestSwitches(): UnsafeTestSwitches {
  const delay = process.env[UNSAFE_ENV.ackBeforeStoreMs];
  const ms = delay === undefined ? undefined : Number(delay);
  return {
    disableStoreFencing: process.env[UNSAFE_ENV.disableStoreFencing] === "1",
    disableZombieGuard: process.env[UNSAFE_ENV.disableZombieGuard] === "1",
    ackBeforeStoreMs: ms !== undefined && Number.isFinite(ms) && ms >= 0 ? ms : undefined,
  };
}

export function testRunId(): string | undefined {
  return process.env[TEST_RUN_ID_ENV];
}

/** Every VIGIL_* variable of this process (internal ones included), for the process configuration. */
export function vigilEnvironment(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith("VIGIL_") && value !== undefined) out[name] = value;
  }
  return out;
}
