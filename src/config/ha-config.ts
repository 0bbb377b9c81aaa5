// The validated HA configuration. Users' options (CLI flags now; vigil.yaml and VIGIL_* later) are compiled
// into this shape in one place; every problem is a ConfigError that names the option.
import { ConfigError } from "../common/errors.ts";

export type HaBackendKind = "etcd" | "zookeeper" | "memory";

export interface HaConfig {
  readonly backend: HaBackendKind;
  /** host:port of each etcd member / ZooKeeper server. Empty for memory. */
  readonly endpoints: readonly string[];
  /** Namespaces every key: /vigil/<clusterId>/… */
  readonly clusterId: string;
  /** etcd lease TTL / requested ZooKeeper session timeout, in ms. Failover takes about this long. */
  readonly ttlMs: number;
  /** Subtracted from the proven-alive deadline to absorb clock-rate and scheduling skew. */
  readonly safetyMarginMs: number;
  /** How long start() waits for the backend before failing with BackendUnavailableError. */
  readonly connectTimeoutMs: number;
  /** Bound on one request to the backend; past it a write's outcome is unknown. */
  readonly requestTimeoutMs: number;
  /** Reserved: TLS to the backend (a later issue). */
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  /** Reserved: authentication to the backend (a later issue). */
  readonly auth?: { readonly username?: string; readonly password?: string; readonly digest?: string };
}

export interface HaOptions {
  backend?: string;
  endpoints?: string | readonly string[];
  clusterId?: string;
  ttlMs?: number;
  safetyMarginMs?: number;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export const HA_DEFAULTS = { ttlMs: 5_000, connectTimeoutMs: 5_000, requestTimeoutMs: 5_000 } as const;

const CLUSTER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const ENDPOINT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** Default margin: a tenth of the TTL, at least 50 ms and at most 1 s. */
export function defaultSafetyMargin(ttlMs: number): number {
  return Math.min(1_000, Math.max(50, Math.round(ttlMs / 10)));
}

/** Validates options; `names` maps each field to the option name the user typed, for error messages. */
export function compileHaConfig(
  options: HaOptions,
  names: Partial<Record<keyof HaOptions, string>> = {},
): HaConfig {
  const name = (k: keyof HaOptions): string => names[k] ?? k;
  const backend = options.backend;
  if (backend !== "etcd" && backend !== "zookeeper" && backend !== "memory") {
    throw new ConfigError(
      backend === undefined
        ? `${name("backend")} is required: etcd or zookeeper`
        : `${name("backend")}: unknown backend ${JSON.stringify(backend)}; use etcd or zookeeper`,
    );
  }
  const raw =
    typeof options.endpoints === "string" ? options.endpoints.split(",") : (options.endpoints ?? []);
  const endpoints = raw.map((e) => e.trim()).filter((e) => e !== "");
  if (backend !== "memory" && endpoints.length === 0) {
    throw new ConfigError(`${name("endpoints")} is required for ${backend}: HOST:PORT[,HOST:PORT…]`);
  }
  for (const e of endpoints) {
    const m = ENDPOINT.exec(e);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) {
      throw new ConfigError(`${name("endpoints")}: ${JSON.stringify(e)} is not HOST:PORT (port 1-65535)`);
    }
  }
  const clusterId = options.clusterId;
  if (clusterId === undefined || !CLUSTER_ID.test(clusterId)) {
    throw new ConfigError(
      `${name("clusterId")}: ${clusterId === undefined ? "is required" : JSON.stringify(clusterId) + " is invalid"}; use 1-63 letters, digits, '.', '_' or '-'`,
    );
  }
  const ttlMs = positive(options.ttlMs ?? HA_DEFAULTS.ttlMs, name("ttlMs"), 1_000);
  if (ttlMs % 1000 !== 0 && backend === "etcd") {
    throw new ConfigError(`${name("ttlMs")}: etcd lease TTLs are whole seconds; got ${ttlMs / 1000} s`);
  }
  const safetyMarginMs = positive(
    options.safetyMarginMs ?? defaultSafetyMargin(ttlMs),
    name("safetyMarginMs"),
    0,
  );
  if (safetyMarginMs >= ttlMs / 2) {
    throw new ConfigError(
      `${name("safetyMarginMs")}: ${safetyMarginMs} ms must be under half the TTL (${ttlMs} ms)`,
    );
  }
  return {
    backend,
    endpoints,
    clusterId,
    ttlMs,
    safetyMarginMs,
    connectTimeoutMs: positive(
      options.connectTimeoutMs ?? HA_DEFAULTS.connectTimeoutMs,
      name("connectTimeoutMs"),
      100,
    ),
    requestTimeoutMs: positive(
      options.requestTimeoutMs ?? HA_DEFAULTS.requestTimeoutMs,
      name("requestTimeoutMs"),
      100,
    ),
  };
}

function positive(value: number, option: string, min: number): number {
  if (!Number.isFinite(value) || value < min) {
    throw new ConfigError(`${option}: ${value / 1000} s is invalid; it must be at least ${min / 1000} s`);
  }
  return value;
}
