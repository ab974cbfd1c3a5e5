/**
 * Which URLs the service may fetch an image from (classify by URL, docs/api.md). Off unless FETCH_ALLOWED_HOSTS
 * lists hosts. A host matches an exact entry or a `*.suffix` entry; an exact entry is the operator naming that host
 * on purpose, so only it may use plain http, an IP literal or a loopback/private address.
 */
import { ApiError } from '../problems.js';

export interface UrlPolicy {
  /** Host names listed exactly (lower case; IP literals as the URL parser writes them, IPv6 in brackets). */
  exact: ReadonlySet<string>;
  /** `*.example.com` entries, stored as `.example.com`: they match subdomains only. */
  suffixes: readonly string[];
}

function hostnameOf(entry: string, host: string): string {
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    throw new Error(`FETCH_ALLOWED_HOSTS: ${JSON.stringify(entry)} is not a host name`);
  }
}

/** Throws Error (the config turns it into ConfigError) for an entry that is not a host name. */
export function parseAllowedHosts(raw: string): UrlPolicy {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const entry of raw.split(',')) {
    const host = entry.trim().toLowerCase();
    if (host === '') continue;
    if (/[/@?#\s]/.test(host) || host === '*.')
      throw new Error(`FETCH_ALLOWED_HOSTS: ${JSON.stringify(entry)} is not a host name`);
    if (host.startsWith('*.')) suffixes.push(host.slice(1));
    // Normalised by the URL parser, so "127.1" or "[::1]" compare as the parser writes a fetched URL's host.
    else exact.add(hostnameOf(entry, host));
  }
  return { exact, suffixes };
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** IP literals, loopback names and addresses in private, loopback, link-local or unspecified ranges. */
export function isInternalAddress(host: string): boolean {
  const name = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (IPV4.test(name)) {
    const [a, b] = name.split('.').map(Number);
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168)
    );
  }
  if (name.includes(':')) {
    const mapped = name.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/);
    if (mapped) return isInternalAddress(mapped[1]);
    return name === '::' || name === '::1' || /^f[cd]/.test(name) || /^fe[89ab]/.test(name);
  }
  return false;
}

function isIpLiteral(host: string): boolean {
  return IPV4.test(host) || host.startsWith('[');
}

function notAllowed(url: string, reason: string): ApiError {
  return new ApiError('url-not-allowed', `${url.slice(0, 200)}: ${reason}`, {
    details: { url: url.slice(0, 2000) },
  });
}

/** Parses `raw` and checks it against the policy; throws 400 url-not-allowed saying why not. */
export function checkUrl(raw: string, policy: UrlPolicy | undefined): URL {
  if (!policy) throw notAllowed(raw, 'classify by URL is off on this service (FETCH_ALLOWED_HOSTS is not set)');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw notAllowed(raw, 'not an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw notAllowed(raw, `${url.protocol} URLs are not fetched`);
  if (url.username || url.password) throw notAllowed(raw, 'URLs with credentials are not fetched');
  const host = url.hostname;
  const listed = policy.exact.has(host);
  if (!listed) {
    if (isIpLiteral(host) || isInternalAddress(host)) {
      throw notAllowed(raw, 'IP literals and loopback or private hosts are fetched only when listed exactly');
    }
    if (!policy.suffixes.some((suffix) => host.endsWith(suffix) && host.length > suffix.length)) {
      throw notAllowed(raw, `host ${host} is not in FETCH_ALLOWED_HOSTS`);
    }
    if (url.protocol !== 'https:') throw notAllowed(raw, 'plain http is allowed only for hosts listed exactly');
  }
  return url;
}

/** Whether a host name may resolve to an internal address (only hosts listed exactly may). */
export function mayResolveInternally(host: string, policy: UrlPolicy): boolean {
  return policy.exact.has(host);
}
