// Leader retrieval on ZooKeeper: follows the election's leader znode (see leader-record.ts).
import { BackendUnavailableError, LifecycleError } from "../../common/errors.ts";
import type { LeaderRetrievalDriver, LeaderRetrievalListener } from "../retrieval-driver.ts";
import type { ZooKeeperConnection } from "./connection.ts";
import { LeaderRecordFollower } from "./leader-record.ts";

export class ZooKeeperRetrievalDriver implements LeaderRetrievalDriver {
  private state: "created" | "started" | "closed" = "created";
  private follower: LeaderRecordFollower | undefined;

  constructor(
    private readonly conn: ZooKeeperConnection,
    private readonly leaderPath: string,
  ) {}

  async start(listener: LeaderRetrievalListener): Promise<void> {
    if (this.state !== "created")
      throw new LifecycleError(`retrieval of ${this.leaderPath}: start() called twice`);
    if (!this.conn.isOpen)
      throw new BackendUnavailableError("ZooKeeper backend is not connected: call connect() first");
    this.state = "started";
    this.follower = new LeaderRecordFollower(this.conn, this.leaderPath, {
      onInfo: (info) => listener.onLeaderInformation(info),
      onError: (error) => listener.onError(error),
    });
    try {
      await this.follower.start();
    } catch (e: unknown) {
      await this.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    this.state = "closed";
    this.follower?.close();
  }
}
