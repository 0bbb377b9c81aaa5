// Leader retrieval on etcd: follows the election's leader key (see leader-follower.ts).
import { LifecycleError } from "../../common/errors.ts";
import type { LeaderRetrievalDriver, LeaderRetrievalListener } from "../retrieval-driver.ts";
import type { EtcdContext } from "./client.ts";
import { LeaderFollower } from "./leader-follower.ts";

export class EtcdRetrievalDriver implements LeaderRetrievalDriver {
  private follower: LeaderFollower | undefined;
  private state: "latent" | "started" | "closed" = "latent";

  constructor(
    private readonly ctx: EtcdContext,
    private readonly leaderKey: string,
  ) {}

  async start(listener: LeaderRetrievalListener): Promise<void> {
    if (this.state !== "latent")
      throw new LifecycleError(`retrieval of ${this.leaderKey}: start() called twice`);
    this.state = "started";
    const follower = new LeaderFollower(
      this.ctx,
      this.leaderKey,
      (info) => listener.onLeaderInformation(info),
      (error) => listener.onError(error),
    );
    this.follower = follower;
    try {
      await follower.start();
    } catch (e: unknown) {
      await follower.close();
      throw e;
    }
    if (this.isClosed()) await follower.close();
  }

  private isClosed(): boolean {
    return this.state === "closed";
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    await this.follower?.close();
  }
}
