// The latch znodes of one election driver (election-driver.ts), after Curator's LeaderLatch: a latch is
// <election>/latch/_c_<driver>-<campaign>-latch-<seq>, EPHEMERAL_SEQUENTIAL; the "protected" prefix finds a
// node again whose create lost its answer, and tells this driver's latches from the other contenders'.
import { randomUUID } from "node:crypto";
import type { ZooKeeperConnection } from "./connection.ts";
import { CreateMode, ZkCode, ZkResultError } from "./requests.ts";

export interface Latch {
  readonly campaign: number;
  readonly name: string;
  readonly path: string;
  readonly epoch: bigint;
}

/** The 10-digit sequence suffix ZooKeeper appends to a sequential node's name. */
export function sequenceOf(name: string): number {
  return Number(name.slice(-10));
}

export class LatchNodes {
  /** The name prefix of every latch of this driver, whatever its campaign. */
  readonly ownPrefix = `_c_${randomUUID()}-`;

  constructor(
    private readonly conn: ZooKeeperConnection,
    private readonly latchDir: string,
  ) {}

  /** Creates this campaign's latch node (finding it again after a lost answer); returns its name. */
  async create(campaign: number): Promise<string> {
    await this.conn.ensurePath(this.latchDir);
    const prefix = `${this.ownPrefix}${campaign}-latch-`;
    let name = await this.findOwn(prefix);
    if (name === undefined) {
      try {
        const path = await this.conn.write<string>("create latch", `${this.latchDir}/${prefix}`, (c, done) =>
          c.create(`${this.latchDir}/${prefix}`, Buffer.alloc(0), CreateMode.EPHEMERAL_SEQUENTIAL, done),
        );
        name = path.slice(this.latchDir.length + 1);
      } catch (e: unknown) {
        // Outcome unknown: the protected prefix tells whether the node exists; if not, the retry creates it.
        name = await this.findOwn(prefix);
        if (name === undefined) throw e;
      }
    }
    return name;
  }

  /** The names of all latches in the election, of every contender. */
  children(): Promise<string[]> {
    return this.conn.read<string[]>("getChildren", this.latchDir, (c, done) =>
      c.getChildren(this.latchDir, done),
    );
  }

  /** Deletes the latch node at `path`; one that is gone already is fine. */
  async remove(path: string): Promise<void> {
    try {
      await this.conn.write<void>("delete latch", path, (c, done) => c.remove(path, -1, done));
    } catch (e: unknown) {
      if (!(e instanceof ZkResultError && e.zkCode === ZkCode.NO_NODE)) throw e;
    }
  }

  private async findOwn(prefix: string): Promise<string | undefined> {
    const children = await this.children();
    return children.find((n) => n.startsWith(prefix));
  }
}
