/**
 * The /docs reference (worker/service/routes/docs.ts): Swagger UI's bundle and styles copied from the swagger-ui-dist
 * package, with a small page and start-up script, written by `npm run build:page` beside the demo page. Offline:
 * every file is served by the service itself, and Swagger UI's online spec validator is turned off.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { DOCS_FILES } from '../../worker/service/routes/docs.js';

const swaggerDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'" />
    <title>EfficientViT at the edge: API reference</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="/docs/swagger-ui.css" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

// validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io.
const INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, validatorUrl: null });
`;

/** name → contents, for every file in DOCS_FILES. */
export function renderDocs(): Record<string, string | Uint8Array> {
  const docs: Record<string, string | Uint8Array> = {
    'index.html': HTML,
    'init.js': INIT,
    'swagger-ui-bundle.js': readFileSync(path.join(swaggerDir, 'swagger-ui-bundle.js')),
    'swagger-ui.css': readFileSync(path.join(swaggerDir, 'swagger-ui.css')),
  };
  const missing = Object.keys(DOCS_FILES).filter((name) => !(name in docs));
  if (missing.length) throw new Error(`renderDocs writes no ${missing.join(', ')}`);
  return docs;
}
