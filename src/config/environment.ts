// The only reads of process.env in vigil. Everything else gets these values passed in.

/** Set by the integration-test globalSetup; child processes and servers of that run carry it in their records. */
export const TEST_RUN_ID_ENV = "VIGIL_HA_RUN_ID";

/** Where the JobManager / TaskManager config file is when --config is not given. */
export const CONFIG_FILE_ENV = "VIGIL_CONFIG";

/**
 * VIGIL_* variables that are not configuration keys: vigil sets or reads them for its own machinery. The
 * process configuration ignores them instead of rejecting them as unknown keys.
 */
export const INTERNAL_ENV: readonly string[] = [TEST_RUN_ID_ENV, CONFIG_FILE_ENV];

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
