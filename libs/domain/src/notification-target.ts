import { BlockList, isIP } from 'node:net';

/*
 * Where the worker may POST notifications. A subscription's URL is an ops key's to choose, and the worker posts from
 * inside the deployment: without a rule, a URL on the link-local range reaches the cloud's instance metadata service
 * (169.254.169.254, fd00:ec2::254, metadata.google.internal) and the delivery's status and error tell the caller what
 * answered. No receiver lives there, nor on the unspecified, multicast or broadcast addresses: those are refused, as
 * a literal address or a name, when the subscription is created and again for each address a name resolves to when
 * a delivery connects (a name may change its address after the check). Loopback and private addresses stay allowed:
 * a receiver on the same host or the internal network (the demo's inbox, an on-premises Mattermost) is legitimate.
 * A deployment that knows its receivers names them (NOTIFY_ALLOWED_HOSTS: TargetAllowList): then no other host is
 * reached, internal services included.
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

/** A URL's host as the rules read it: lower case, no trailing dot; null when it is not a URL (the protocol rule names it). */
function hostOf(url: string): string | null {
  try {
    return new URL(url).hostname.toLowerCase().replace(/\.$/, '');
  } catch {
    return null;
  }
}

/** Why a subscription may not post to this URL's host (a literal address or a name), or null when it may. */
export function refusedTargetUrl(url: string): string | null {
  const host = hostOf(url);
  if (host === null) return null;
  if (REFUSED_NAMES.has(host)) return `${host} is a cloud metadata service, not a receiver`;
  return refusedTargetAddress(host);
}

/**
 * The receivers a deployment allows (NOTIFY_ALLOWED_HOSTS, comma separated): host names (`hooks.slack.com`), every
 * name under a domain (`*.example.com`, not the domain itself), addresses and CIDR ranges (`10.20.0.0/16`). A URL's
 * host must match one; a name is matched as written in the URL (its address is then the name's owner's business,
 * the metadata rule aside).
 */
export interface TargetAllowList {
  names: ReadonlySet<string>;
  suffixes: readonly string[];
  addresses: BlockList;
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** The allow-list, or what is wrong with the first entry that is not a name, a `*.domain`, an address or a range. */
export function parseTargetAllowList(text: string): TargetAllowList | string {
  const names = new Set<string>();
  const suffixes: string[] = [];
  const addresses = new BlockList();
  const entries = text
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '');
  if (!entries.length) return 'name at least one host, or leave it unset';
  for (const entry of entries) {
    const [literal, bits, extra] = entry.split('/');
    const address = literal.replace(/^\[(.*)\]$/, '$1'); // [::1], as a URL writes it
    const family = isIP(address);
    if (family !== 0) {
      const max = family === 4 ? 32 : 128;
      if (extra !== undefined || (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= max))) {
        return `"${entry}" is not an address or a CIDR range`;
      }
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) addresses.addAddress(address, type);
      else addresses.addSubnet(address, Number(bits), type);
    } else if (entry.startsWith('*.') && HOST_NAME.test(entry.slice(2))) {
      suffixes.push(entry.slice(1));
    } else if (HOST_NAME.test(entry)) {
      names.add(entry);
    } else {
      return `"${entry}" is not a host name, a *.domain, an address or a CIDR range`;
    }
  }
  return { names, suffixes, addresses };
}

/**
 * Why the worker may not post to this URL: the rule for every deployment (refusedTargetUrl), then, when the
 * deployment names its receivers, a host it does not name. null when it may.
 */
export function refusedTarget(url: string, allowed?: TargetAllowList): string | null {
  const always = refusedTargetUrl(url);
  const host = hostOf(url);
  if (always || !allowed || host === null) return always;
  const ip = unmapped(host.replace(/^\[|\]$/g, ''));
  const family = isIP(ip);
  const listed =
    family !== 0
      ? allowed.addresses.check(ip, family === 4 ? 'ipv4' : 'ipv6')
      : allowed.names.has(host) || allowed.suffixes.some((suffix) => host.endsWith(suffix));
  return listed ? null : `${host} is not among the receivers NOTIFY_ALLOWED_HOSTS names`;
}
