// One campaign of the etcd election driver (election-driver.ts): a lease, and the campaign key
// `<election>/campaign/<lease-hex>` created on it only if absent. The key's create revision is the epoch.

import type { CampaignKeyWatch } from "./campaign-key-watch.ts";
import { deadline, type EtcdContext, writeOnce } from "./client.ts";
import { EtcdLease } from "./lease.ts";
import type { PredecessorWatch } from "./predecessor-watch.ts";

export interface Campaign {
  readonly gen: number;
  readonly lease: EtcdLease;
  readonly key: string;
  readonly epoch: bigint;
  /** Its place in the queue: leads, or watches its predecessor (predecessor-watch.ts). */
  queue: PredecessorWatch | undefined;
  self: CampaignKeyWatch | undefined;
}

/** Thrown inside the driver when a campaign was superseded (close, newer generation) while it registered. */
export class Superseded extends Error {}

/**
 * Grants a lease and creates the campaign key on it, under `campaignPrefix`. Superseded when the driver's
 * generation (`currentGen()`) moved past `gen` meanwhile; the lease is then given back.
 */
export async function registerCampaign(
  ctx: EtcdContext,
  campaignPrefix: string,
  gen: number,
  currentGen: () => number,
): Promise<Campaign> {
  const { ttlMs, requestTimeoutMs } = ctx.config;
  const lease = await EtcdLease.grant(ctx, ttlMs, requestTimeoutMs);
  const abandon = (): void => void lease.revoke(requestTimeoutMs).catch(() => undefined);
  if (gen !== currentGen()) {
    abandon();
    throw new Superseded();
  }
  const key = `${campaignPrefix}${lease.hex}`;
  let epoch: bigint;
  try {
    // Create-if-absent makes the request safe to retry when its reply was lost: the key names our lease.
    const res = await writeOnce(ctx, "create campaign key", key, (ms) =>
      ctx.client.kv.txn(
        {
          compare: [{ key: Buffer.from(key), target: "Create", result: "Equal", create_revision: 0 }],
          success: [{ request_put: { key: Buffer.from(key), value: Buffer.alloc(0), lease: lease.id } }],
          failure: [{ request_range: { key: Buffer.from(key) } }],
        },
        deadline(ms),
      ),
    );
    const existing = res.responses[0]?.response_range?.kvs[0];
    epoch = res.succeeded ? BigInt(res.header.revision) : BigInt(existing?.create_revision ?? 0);
  } catch (e: unknown) {
    abandon();
    throw e;
  }
  if (gen !== currentGen()) {
    abandon();
    throw new Superseded();
  }
  return {
    gen,
    lease,
    key,
    epoch,
    queue: undefined,
    self: undefined,
  };
}
