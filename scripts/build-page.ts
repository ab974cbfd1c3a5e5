/**
 * `npm run build:page [-- --out DIR ...]`: builds the demo page (worker/page/) into `page/index.html` in each
 * target's build folder (models/build/edge and models/build/node), or into each --out folder. `npm start`,
 * `npm run start:node` and `wrangler dev`/`deploy` (wrangler.toml [build]) run it.
 */
import { parseArgs } from 'node:util';
import { targetDir } from '../models/toolchain/targets.js';
import { buildPage } from './lib/page.js';
import { printCliError } from './lib/build-cli.js';

const USAGE = `usage: npm run build:page [-- --out DIR ...]

Builds the demo page (worker/page/) into DIR/page/index.html; default: models/build/edge and models/build/node.`;

try {
  const { values } = parseArgs({
    options: { out: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
  } else {
    const written = await buildPage(values.out ?? [targetDir('edge'), targetDir('node')]);
    for (const file of written) console.error(`wrote ${file}`);
  }
} catch (error) {
  if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
    console.error(`error: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  process.exit(printCliError(error));
}
