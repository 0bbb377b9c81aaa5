// The integration suites' view of src/local/processes.ts: vigil child processes as typed event logs.
export * from "../../src/local/processes.ts";
