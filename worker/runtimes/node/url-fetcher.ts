/**
 * Node only: fetching image URLs with a DNS check. Node's fetch can reach the host's private networks, so a listed
 * `*.suffix` whose name resolves to an internal address is refused (worker/service/fetch/fetch-image.ts asks before fetching).
 */
import { lookup } from 'node:dns/promises';
import type { UrlFetcher } from '../../service/fetch/fetch-image.js';

export const nodeUrlFetcher: UrlFetcher = {
  fetch: (input, init) => fetch(input, init),
  lookup: async (host) => (await lookup(host, { all: true })).map((entry) => entry.address),
};
