/**
 * The docs stay honest about the tree: every relative link in README.md and docs/ points at a file that exists (and,
 * into a Markdown page, at a heading that exists, as GitHub slugs it), and every `npm run X` / `npm start` / `npm test`
 * they name is a script in package.json (except in docs/decisions/, whose pages record the commands of benchmarks
 * since removed, with the commit that still has them).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/golden.js';

/**
 * Pages the README links that other work adds; each entry must still be missing, so a page that lands fails here
 * until its entry goes and its links are checked like any other.
 */
const PENDING_PAGES: string[] = [];

function markdownFiles(): string[] {
  const found = ['README.md'];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(repoRoot, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.md')) found.push(rel);
    }
  };
  walk('docs');
  return found.sort();
}

/** The text outside fenced code blocks and inline code spans, where a link is a link. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/``[^`\n]+``|`[^`\n]+`/g, '');
}

/** Link targets: `[text](target)`, `![alt](target)`, and `[text]: target` reference definitions. */
export function linkTargets(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const defined = [...text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((m) => m[1]!);
  return [...inline, ...defined];
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const [, heading] of withoutFences.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = heading!
      .replace(/<[^>]+>/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** A link's problem, or undefined when it resolves. External links (a scheme) are not followed. */
function brokenLink(file: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined;
  const hash = target.indexOf('#');
  const filePart = decodeURI(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const resolved = filePart === '' ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), filePart));
  if (PENDING_PAGES.includes(resolved)) return undefined;
  const absolute = path.join(repoRoot, resolved);
  if (!existsSync(absolute)) return `${target}: no such file ${resolved}`;
  if (anchor === undefined || !resolved.endsWith('.md') || statSync(absolute).isDirectory()) return undefined;
  if (!headingAnchors(readFileSync(absolute, 'utf8')).has(anchor))
    return `${target}: ${resolved} has no heading #${anchor}`;
  return undefined;
}

/** Every npm script a text tells the reader to run. */
export function npmScripts(markdown: string): string[] {
  const named = [...markdown.matchAll(/\bnpm run ([\w:.-]*\w)/g)].map((m) => m[1]!);
  const builtIn = [...markdown.matchAll(/\bnpm (start|test)\b/g)].map((m) => m[1]!);
  return [...named, ...builtIn];
}

const files = markdownFiles();
const scripts = Object.keys(
  (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
    .scripts,
);

describe('the docs', () => {
  it('find README.md and the docs/ pages', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('docs/architecture.md');
    expect(files.length).toBeGreaterThan(10);
  });

  it.each(files)('%s: every relative link resolves', (file) => {
    const broken = linkTargets(readFileSync(path.join(repoRoot, file), 'utf8'))
      .map((target) => brokenLink(file, target))
      .filter((problem) => problem !== undefined);
    expect(broken).toEqual([]);
  });

  it.each(files.filter((file) => !file.startsWith('docs/decisions/')))(
    '%s: every npm script it names exists',
    (file) => {
      const missing = npmScripts(readFileSync(path.join(repoRoot, file), 'utf8')).filter(
        (name) => !scripts.includes(name),
      );
      expect([...new Set(missing)]).toEqual([]);
    },
  );

  it('lists as pending only pages that are still missing', () => {
    expect(PENDING_PAGES.filter((page) => existsSync(path.join(repoRoot, page)))).toEqual([]);
  });
});

describe('the link checker', () => {
  it('reads inline links, images and reference definitions, not code', () => {
    const text = '[a](x.md) ![b](img/c.png "t") `[d](no.md)`\n```\n[e](no2.md)\n```\n[f]: docs/g.md\n<https://h>';
    expect(linkTargets(text)).toEqual(['x.md', 'img/c.png', 'docs/g.md']);
  });

  it('slugs headings as GitHub does', () => {
    const anchors = headingAnchors(
      '# Edge → GPU origin: one API\n## `GET /`: the demo page\n## Decode memory (`MAX_DECODE_MIB`)\n## Notes\n## Notes\n',
    );
    expect([...anchors]).toEqual([
      'edge--gpu-origin-one-api',
      'get--the-demo-page',
      'decode-memory-max_decode_mib',
      'notes',
      'notes-1',
    ]);
  });

  it('finds a missing file, a missing heading, and passes a good link', () => {
    expect(brokenLink('README.md', 'docs/nope.md')).toMatch(/no such file docs\/nope\.md/);
    expect(brokenLink('README.md', 'docs/api.md#no-such-heading')).toMatch(/has no heading/);
    expect(brokenLink('docs/node.md', 'api.md#errors')).toBeUndefined();
    expect(brokenLink('docs/node.md', 'https://example.com/x')).toBeUndefined();
  });

  it('names npm scripts, including npm start and npm test', () => {
    expect(npmScripts('run `npm run bench:edge -- --x`, then npm start and `npm test`.')).toEqual([
      'bench:edge',
      'start',
      'test',
    ]);
  });
});
