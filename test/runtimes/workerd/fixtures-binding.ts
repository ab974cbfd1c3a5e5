/**
 * A Node-side service binding for workerd tests: `env.FIXTURES.fetch('http://fixtures/shared/<path>')` serves
 * ../shared (golden data, sample images, photos), `/fixtures/<path>` serves test/fixtures and `/generated/<path>` the
 * images the global setup wrote. Read-only, GET only, and confined to those folders, so tests can use large real
 * files without bundling them.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const ROOTS: Record<string, string> = {
  shared: path.resolve(repoRoot, '../shared'),
  fixtures: path.resolve(repoRoot, 'test/fixtures'),
  generated: path.resolve(repoRoot, '.cache/test-images'),
};

export async function serveFixture(request: Request): Promise<Response> {
  if (request.method !== 'GET') return new Response('GET only', { status: 405 });
  const [, rootName, ...rest] = decodeURIComponent(new URL(request.url).pathname).split('/');
  const root = ROOTS[rootName];
  if (!root) return new Response(`unknown root ${rootName}`, { status: 404 });
  const file = path.resolve(root, rest.join('/'));
  if (!file.startsWith(root + path.sep)) return new Response('outside the fixture roots', { status: 403 });
  try {
    return new Response(await readFile(file));
  } catch {
    return new Response(`not found: ${rootName}/${rest.join('/')}`, { status: 404 });
  }
}
