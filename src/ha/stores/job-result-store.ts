// Results of terminal jobs (job-results/<job>). A result is written "dirty" before the job's HA data is
// cleaned up and marked "clean" after; a job with a result never runs again, and a new leader finishes the
// cleanup of dirty ones (DESIGN.md §3, Flink's JobResultStore).
import { CorruptRecordError, NotFoundError } from "../../common/errors.ts";
import { codecs, type JobResult, type JobStatus } from "../../generated/records.ts";
import { storeKeys } from "../keys.ts";
import type { LeaderSession } from "../leader-session.ts";
import type { StateHandleStore } from "../state-handle-store.ts";
import { decodeRecord, RECORD_VERSION } from "./records.ts";

export interface JobResultEntry {
  readonly jobId: string;
  readonly status: Exclude<JobStatus, "JOB_STATUS_UNSPECIFIED">;
  readonly clean: boolean;
  readonly error: string;
  readonly finishedAtMs: bigint;
}

export class JobResultStore {
  constructor(private readonly store: StateHandleStore) {}

  /** Records a terminal job as dirty (fenced). AlreadyExistsError when it already has a result. */
  async createDirty(result: Omit<JobResultEntry, "clean">, fence: LeaderSession): Promise<void> {
    const record: JobResult = { version: RECORD_VERSION, ...result, state: "JOB_RESULT_STATE_DIRTY" };
    await this.store.create(storeKeys.jobResult(result.jobId), codecs.JobResult.encode(record), fence);
  }

  /** Marks the result clean once the job's HA data is gone (fenced). NotFoundError without a result. */
  async markClean(jobId: string, fence: LeaderSession): Promise<void> {
    const key = storeKeys.jobResult(jobId);
    const entry = await this.store.get(key);
    if (!entry) throw new NotFoundError(key);
    const record = decodeRecord(codecs.JobResult, key, entry.value);
    if (record.state === "JOB_RESULT_STATE_CLEAN") return;
    const clean: JobResult = { ...record, state: "JOB_RESULT_STATE_CLEAN" };
    await this.store.replace(key, codecs.JobResult.encode(clean), entry.version, fence);
  }

  /** The job's result, or undefined when it has none (it may run). */
  async get(jobId: string): Promise<JobResultEntry | undefined> {
    const key = storeKeys.jobResult(jobId);
    const entry = await this.store.get(key);
    return entry && toEntry(key, entry.value);
  }

  async has(jobId: string): Promise<boolean> {
    return (await this.store.get(storeKeys.jobResult(jobId))) !== undefined;
  }

  /** Every result, sorted by job id. */
  async list(): Promise<JobResultEntry[]> {
    return (await this.store.list(storeKeys.jobResults)).map((e) => toEntry(e.key, e.value));
  }

  /** Results whose cleanup has not finished. */
  async listDirty(): Promise<JobResultEntry[]> {
    return (await this.list()).filter((r) => !r.clean);
  }
}

function toEntry(key: string, value: Uint8Array): JobResultEntry {
  const r = decodeRecord(codecs.JobResult, key, value);
  if (r.status === "JOB_STATUS_UNSPECIFIED" || r.state === "JOB_RESULT_STATE_UNSPECIFIED") {
    throw new CorruptRecordError(key, "job result without a status or state");
  }
  return {
    jobId: r.jobId,
    status: r.status,
    clean: r.state === "JOB_RESULT_STATE_CLEAN",
    error: r.error,
    finishedAtMs: r.finishedAtMs,
  };
}
