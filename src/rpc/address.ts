// The address a server publishes (leader information, TaskManager registrations) must be one that other
// processes can dial. A server bound to a wildcard (0.0.0.0, ::) is reachable on every interface, but
// "0.0.0.0:6123" means nothing to a peer: publish this machine's hostname there instead, unless the operator
// names the host to advertise.
import { hostname } from "node:os";

const WILDCARDS = new Set(["0.0.0.0", "::", "[::]", ""]);

/** "host:port" for peers, from the bound "host:port" and an optional advertised host. */
export function advertisedAddress(bound: string, advertisedHost?: string): string {
  const colon = bound.lastIndexOf(":");
  const host = bound.slice(0, colon);
  const port = bound.slice(colon + 1);
  if (advertisedHost !== undefined && advertisedHost !== "") return `${bracketed(advertisedHost)}:${port}`;
  return WILDCARDS.has(host) ? `${hostname()}:${port}` : bound;
}

function bracketed(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
