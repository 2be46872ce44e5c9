/**
 * The `Host` check of a dashboard with control enabled: a DNS-rebinding page reaches a
 * loopback server under its own name, so a request is served only when its `Host` names
 * the address the connection came in on (or a name the operator listed).
 */

/** True when `hostHeader` names where the request arrived, or a host in `allowed`. */
export function hostAllowed(
  hostHeader: string | undefined,
  localAddress: string | undefined,
  localPort: number | undefined,
  allowed: readonly string[],
): boolean {
  if (hostHeader === undefined || hostHeader === "") return false;
  const host = hostHeader.toLowerCase();
  const { name, port } = splitHost(host);
  if (allowed.includes(host) || allowed.includes(name)) return true;
  if (localAddress === undefined || localPort === undefined) return false;
  if ((port === 0 ? 80 : port) !== localPort) return false;
  const local = unmapped(localAddress.toLowerCase());
  if (name === local) return true;
  return isLoopback(local) && LOOPBACK_NAMES.has(name);
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1"]);

/** `name:port`, `[v6]:port` or a bare name, as a name (without brackets) and a port (0 when absent). */
function splitHost(host: string): { name: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (v6 !== null) return { name: v6[1] as string, port: v6[2] === undefined ? 0 : Number(v6[2]) };
  const colon = host.lastIndexOf(":");
  if (colon < 0) return { name: host, port: 0 };
  return { name: host.slice(0, colon), port: Number(host.slice(colon + 1)) };
}

function unmapped(address: string): string {
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.");
}
