// JobGraphs of submitted jobs (key jobgraphs/<job>). A graph too large for one HA record goes to the blob
// store first; the record then holds only its pointer.
import { AlreadyExistsError, CorruptRecordError, RecordTooLargeError } from "../../common/errors.ts";
import { codecs, type JobGraph, type JobGraphRecord } from "../../generated/records.ts";
import type { FileBlobStore } from "../../storage/blob-store.ts";
import { storeKeys } from "../keys.ts";
import type { LeaderSession } from "../leader-session.ts";
import type { StateHandleStore, StoreWatch } from "../state-handle-store.ts";
import { decodeRecord, RECORD_VERSION } from "./records.ts";

export interface JobGraphListener {
  onAddedJobGraph(jobId: string): void;
  onRemovedJobGraph(jobId: string): void;
  /** Changes may have been missed; call jobIds() again. */
  onResync(): void;
}

export class JobGraphStore {
  constructor(
    private readonly store: StateHandleStore,
    private readonly blobs: FileBlobStore | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Stores the graph under its job id (fenced). Idempotent: storing it again replaces the record. Resolves
   * only when the record is durable; PossiblyInconsistentStateError means it may or may not be.
   */
  async put(graph: JobGraph, fence: LeaderSession): Promise<void> {
    const key = storeKeys.jobGraph(graph.jobId);
    const record = await this.recordFor(key, graph);
    const value = codecs.JobGraphRecord.encode(record);
    try {
      await this.store.create(key, value, fence);
    } catch (e: unknown) {
      if (!(e instanceof AlreadyExistsError)) throw e;
      const old = await this.store.get(key);
      if (!old) return this.put(graph, fence);
      await this.store.replace(key, value, old.version, fence);
      // The old pointer is gone; now its blob may go too.
      const previous = this.decode(key, old.value);
      if (previous.graphBlob && this.blobs) await this.blobs.delete(previous.graphBlob);
    }
  }

  /** The graph, or undefined when no job with this id is stored. CorruptRecordError names the key. */
  async get(jobId: string): Promise<JobGraph | undefined> {
    return (await this.getEntry(jobId))?.graph;
  }

  /** The graph with the wall-clock time it was stored; undefined when no job with this id is stored. */
  async getEntry(jobId: string): Promise<{ graph: JobGraph; submittedAtMs: bigint } | undefined> {
    const key = storeKeys.jobGraph(jobId);
    const entry = await this.store.get(key);
    if (!entry) return undefined;
    const record = this.decode(key, entry.value);
    if (record.graph) return { graph: record.graph, submittedAtMs: record.submittedAtMs };
    if (record.graphBlob) {
      if (!this.blobs)
        throw new Error(`${key}: the JobGraph is in the blob store, but no storage dir is configured`);
      const graph = codecs.JobGraph.decode(await this.blobs.get(record.graphBlob));
      return { graph, submittedAtMs: record.submittedAtMs };
    }
    throw new CorruptRecordError(key, "JobGraphRecord holds neither a graph nor a blob pointer");
  }

  /** Ids of every stored job, sorted. */
  async jobIds(): Promise<string[]> {
    const entries = await this.store.list(storeKeys.jobGraphs);
    return entries.map((e) => e.key.slice(storeKeys.jobGraphs.length + 1));
  }

  /** Removes the job's graph (fenced): the pointer first, then its blob. False when it was not stored. */
  async remove(jobId: string, fence: LeaderSession): Promise<boolean> {
    const key = storeKeys.jobGraph(jobId);
    const entry = await this.store.get(key);
    if (!entry) {
      await this.store.remove(key, fence);
      return false;
    }
    await this.store.remove(key, fence, entry.version);
    const record = this.decode(key, entry.value);
    if (record.graphBlob && this.blobs) await this.blobs.delete(record.graphBlob);
    return true;
  }

  /** Notifies about graphs added and removed (by any leader) until the watch is closed. */
  watch(listener: JobGraphListener): Promise<StoreWatch> {
    const prefix = storeKeys.jobGraphs.length + 1;
    return this.store.watch(storeKeys.jobGraphs, (change) => {
      if (change.kind === "put") listener.onAddedJobGraph(change.key.slice(prefix));
      else if (change.kind === "delete") listener.onRemovedJobGraph(change.key.slice(prefix));
      else listener.onResync();
    });
  }

  private async recordFor(key: string, graph: JobGraph): Promise<JobGraphRecord> {
    const base = { version: RECORD_VERSION, jobId: graph.jobId, submittedAtMs: BigInt(this.now()) };
    const inline: JobGraphRecord = { ...base, graph };
    const size = codecs.JobGraphRecord.encode(inline).byteLength;
    if (size <= this.store.maxValueBytes) return inline;
    if (!this.blobs) throw new RecordTooLargeError(key, size, this.store.maxValueBytes, "HA store");
    // Blob first, pointer second (DESIGN.md §3).
    return {
      ...base,
      graphBlob: await this.blobs.put(`jobgraph-${graph.jobId}`, codecs.JobGraph.encode(graph)),
    };
  }

  private decode(key: string, value: Uint8Array): JobGraphRecord {
    return decodeRecord(codecs.JobGraphRecord, key, value);
  }
}
