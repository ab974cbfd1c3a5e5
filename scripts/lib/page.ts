/**
 * The demo page's build and what drives it in a browser, shared by `npm run build:page`, `npm run screenshot`, the
 * workerd test setup and the browser test.
 *
 * The page (worker/page/) is built into one self-contained `page/index.html` (script and styles inlined, a CSP that
 * allows exactly them) beside the models in each target's build folder: workerd reads it from the Static Assets
 * binding, Node from the folder it serves, and nothing is added to the Worker's script.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { DOCS_DIR } from '../../worker/service/routes/docs.js';
import { PAGE_FILE } from '../../worker/service/routes/page.js';
import { renderDocs } from './docs-page.js';

const PAGE_SOURCES = path.resolve(import.meta.dirname, '../..', 'worker', 'page');

const sha256Source = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The page as one HTML document (synchronous: the test model writers are). */
export function renderPage(): string {
  const bundled = buildSync({
    entryPoints: [path.join(PAGE_SOURCES, 'main.ts'), path.join(PAGE_SOURCES, 'style.css')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    outdir: 'page',
    write: false,
    logLevel: 'silent',
  });
  const output = (extension: string) => {
    const file = bundled.outputFiles.find((f) => f.path.endsWith(extension));
    if (!file) throw new Error(`esbuild produced no ${extension} file`);
    return file.text.trim();
  };
  const js = output('.js');
  const css = output('.css');
  if (/<\/script/i.test(js) || /<\/style/i.test(css)) throw new Error('the bundle contains a closing tag');
  const csp = [
    "default-src 'none'",
    `script-src ${sha256Source(js)}`,
    `style-src ${sha256Source(css)}`,
    // The crop arrives as a data: URL; the API is this origin.
    'img-src data: blob:',
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const template = readFileSync(path.join(PAGE_SOURCES, 'index.html'), 'utf8');
  return template
    .replace('__CSP__', csp)
    .replace(/<style>[\s\S]*?<\/style>/, () => `<style>${css}</style>`)
    .replace(/<\/body>\s*<\/html>\s*$/, () => `  <script type="module">${js}</script>\n  </body>\n</html>\n`);
}

/**
 * Writes `page/index.html` and the /docs reference (`page/docs/`, scripts/lib/docs-page.ts) into each folder, atomically
 * (a running server may be reading them).
 */
export async function buildPage(folders: readonly string[]): Promise<string[]> {
  const files: [string, string | Uint8Array][] = [
    [PAGE_FILE, renderPage()],
    ...Object.entries(renderDocs()).map(([name, contents]): [string, string | Uint8Array] => [
      `${DOCS_DIR}/${name}`,
      contents,
    ]),
  ];
  const written: string[] = [];
  for (const folder of folders) {
    for (const [name, contents] of files) {
      const file = path.join(folder, name);
      await mkdir(path.dirname(file), { recursive: true });
      const temporary = `${file}.${process.pid}.tmp`;
      await writeFile(temporary, contents);
      await rename(temporary, file);
      written.push(file);
    }
  }
  return written;
}
