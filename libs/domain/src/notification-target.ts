import { BlockList, isIP } from 'node:net';

/*
 * Where the worker may POST notifications. A subscription's URL is an ops key's to choose, and the worker posts from
 * inside the deployment: without a rule, a URL on the link-local range reaches the cloud's instance metadata service
 * (169.254.169.254, fd00:ec2::254, metadata.google.internal) and the delivery's status and error tell the caller what
 * answered. No receiver lives there, nor on the unspecified, multicast or broadcast addresses: those are refused, as
 * a literal address or a name, when the subscription is created and again for each address a name resolves to when
 * a delivery connects (a name may change its address after the check). Loopback and private addresses stay allowed:
 * a receiver on the same host or the internal network (the demo's inbox, an on-premises Mattermost) is legitimate.
 */

const REFUSED = new BlockList();
REFUSED.addSubnet('0.0.0.0', 8, 'ipv4'); // "this network": 0.0.0.0 reaches the host itself
REFUSED.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local: the instance metadata services
REFUSED.addSubnet('224.0.0.0', 4, 'ipv4'); // multicast
REFUSED.addSubnet('240.0.0.0', 4, 'ipv4'); // reserved, and the broadcast address
REFUSED.addAddress('::', 'ipv6');
REFUSED.addSubnet('fe80::', 10, 'ipv6'); // link-local
REFUSED.addSubnet('ff00::', 8, 'ipv6'); // multicast
REFUSED.addAddress('fd00:ec2::254', 'ipv6'); // AWS's metadata service over IPv6

/** Names that only ever lead to a metadata service. */
const REFUSED_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata']);

/** `::ffff:a.b.c.d` (or its hex form, as WHATWG URLs write it) → `a.b.c.d`; any other address as it is. */
function unmapped(address: string): string {
  const m = /^::ffff:(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(address);
  if (!m) return address;
  if (m[1]) return m[1];
  const hi = parseInt(m[2], 16);
  const lo = parseInt(m[3], 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

/** Why the worker may not connect to this IP address, or null when it may. */
export function refusedTargetAddress(address: string): string | null {
  const ip = unmapped(address.replace(/^\[|\]$/g, ''));
  const family = isIP(ip);
  if (family === 0) return null;
  return REFUSED.check(ip, family === 4 ? 'ipv4' : 'ipv6')
    ? `${address} is a link-local, unspecified, multicast or metadata address, where no receiver lives`
    : null;
}

/** Why a subscription may not post to this URL's host (a literal address or a name), or null when it may. */
export function refusedTargetUrl(url: string): string | null {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase().replace(/\.$/, '');
  } catch {
    return null; // not a URL: the protocol rule names it
  }
  if (REFUSED_NAMES.has(host)) return `${host} is a cloud metadata service, not a receiver`;
  return refusedTargetAddress(host);
}
