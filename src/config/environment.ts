// The only reads of process.env in vigil. Everything else gets these values passed in.

/** Set by the integration-test globalSetup; child processes and servers of that run carry it in their records. */
export const TEST_RUN_ID_ENV = "VIGIL_HA_RUN_ID";

export function testRunId(): string | undefined {
  return process.env[TEST_RUN_ID_ENV];
}
