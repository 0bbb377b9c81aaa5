// Watches the direct children of one directory znode for the state-handle store, with a persistent recursive
// watch (persistent-watch.ts): every change arrives, in order, without the gaps of re-armed one-shot watches.
// Store keys are created as create-empty + setData in one multi (state-handle-store.ts), so a key's value
// always arrives as a data change: NodeDataChanged = put, NodeDeleted = delete, and a bare NodeCreated is a
// directory znode, not a key (its cleanup, later, is reported as a delete of a key that never was: harmless).
// After a reconnect or a new session, changes may have been missed: "resync".
import { Event } from "node-zookeeper-client";
import type { StoreChange, StoreWatch } from "../state-handle-store.ts";
import type { ZooKeeperConnection } from "./connection.ts";

export class ZooKeeperStoreWatch implements StoreWatch {
  private closed = false;
  private unsubscribe: (() => void) | undefined;
  private stop: (() => void) | undefined;

  constructor(
    private readonly conn: ZooKeeperConnection,
    private readonly dirPath: string,
    private readonly dirKey: string,
    private readonly onChange: (change: StoreChange) => void,
  ) {}

  /** Starts following; reports nothing for the keys that exist already. */
  async start(): Promise<void> {
    this.unsubscribe = this.conn.subscribe({
      onReconnected: () => this.emit({ kind: "resync" }),
      onNewSession: () => this.emit({ kind: "resync" }),
      onSessionLost: () => this.emit({ kind: "resync" }),
    });
    try {
      this.stop = await this.conn.watchRecursive(this.dirPath, (type, path) => this.onEvent(type, path));
    } catch (e: unknown) {
      await this.close();
      throw e;
    }
    if (this.closed) this.stop();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    this.stop?.();
  }

  private emit(change: StoreChange): void {
    if (!this.closed) this.onChange(change);
  }

  private onEvent(type: number, path: string): void {
    if (!path.startsWith(`${this.dirPath}/`)) return;
    const name = path.slice(this.dirPath.length + 1);
    if (name.includes("/")) return; // Deeper than a direct child.
    const key = `${this.dirKey}/${name}`;
    if (type === Event.NODE_DATA_CHANGED) this.emit({ kind: "put", key });
    else if (type === Event.NODE_DELETED) this.emit({ kind: "delete", key });
  }
}
