/**
 * `npm run classify -- FILE…`: classifies image files with a running service (`npm start`, `npm run start:node`, or
 * a deployed one) through the typed client (worker/client), one request per file, printing a small table per image
 * and its timing, or the answers as JSON.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ApiProblemError, type ClassifyResult, createClient } from '../worker/client/index.js';
import { runCli, UsageError, UserError } from './lib/cli.js';

const DEFAULT_SERVER = 'http://127.0.0.1:8787';

const USAGE = `usage: npm run classify -- FILE… [--server URL] [--model M] [--top-k K] [--json] [--token T]

Classifies each image file with a running service, one request per file, and prints its top classes and how long
it took (the service's own total, and the round trip).

  --server URL  the service (default ${DEFAULT_SERVER}: \`npm start\`; \`npm run start:node\` listens on :8080)
  --model M     a model name or alias from GET /v1/models (default: the service's default model)
  --top-k K     classes per image (default: the service's, 5)
  --json        print the answers as a JSON array ({ file, round_trip_ms, ...answer }) instead of tables
  --token T     bearer token, for a service with API_TOKEN set
  --help`;

interface Options {
  files: string[];
  server: string;
  model?: string;
  topK?: number;
  json: boolean;
  token?: string;
}

function parse(argv: string[]): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      server: { type: 'string', default: DEFAULT_SERVER },
      model: { type: 'string' },
      'top-k': { type: 'string' },
      json: { type: 'boolean', default: false },
      token: { type: 'string' },
    },
  });
  if (positionals.length === 0) throw new UsageError('no image files given');
  let topK: number | undefined;
  if (values['top-k'] !== undefined) {
    topK = Number(values['top-k']);
    if (!/^\d+$/.test(values['top-k']) || topK < 1)
      throw new UsageError(`--top-k must be a positive integer, got ${values['top-k']}`);
  }
  let server: URL;
  try {
    server = new URL(values.server);
  } catch {
    throw new UsageError(`--server must be a URL, got ${values.server}`);
  }
  if (server.protocol !== 'http:' && server.protocol !== 'https:')
    throw new UsageError(`--server must be an http(s) URL, got ${values.server}`);
  return {
    files: positionals,
    server: values.server,
    model: values.model,
    topK,
    json: values.json,
    token: values.token,
  };
}

/** One image's table: the model and timings, then rank, score and label per class. */
export function formatTable(file: string, result: ClassifyResult, roundTripMs: number): string {
  const lines = [
    `${file}  ${result.model}  ${result.timing.total_ms.toFixed(1)} ms in the service, ${roundTripMs.toFixed(1)} ms round trip`,
  ];
  result.predictions.forEach((prediction, rank) => {
    lines.push(`  ${String(rank + 1).padStart(2)}  ${prediction.score.toFixed(4)}  ${prediction.label}`);
  });
  return lines.join('\n');
}

/** What went wrong with one file, as the error line's text. */
function describe(file: string, server: string, error: unknown): string {
  if (error instanceof ApiProblemError)
    return `${file}: ${error.status} ${error.code ?? error.problem.title}: ${error.detail}`;
  const code = (error as { code?: string }).code;
  if (code === 'ENOENT') return `${file}: no such file`;
  if (code === 'EISDIR') return `${file}: is a directory`;
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (error instanceof TypeError && cause) return `cannot reach ${server}: ${cause.code ?? cause.message}`;
  return `${file}: ${(error as Error).message ?? String(error)}`;
}

async function main(argv: string[]): Promise<number> {
  const options = parse(argv);
  const client = createClient({ baseUrl: options.server, token: options.token });
  const answers: unknown[] = [];
  let failed = 0;
  for (const file of options.files) {
    try {
      const bytes = new Uint8Array(await readFile(file));
      const started = performance.now();
      const result = await client.classify(bytes, { model: options.model, topK: options.topK });
      const roundTripMs = performance.now() - started;
      if (options.json) answers.push({ file, round_trip_ms: Math.round(roundTripMs * 100) / 100, ...result });
      else console.log(`${formatTable(file, result, roundTripMs)}\n`);
    } catch (error) {
      const message = describe(file, options.server, error);
      // The service cannot be reached: the other files would say the same.
      if (message.startsWith('cannot reach')) throw new UserError(message);
      console.error(`error: ${message}`);
      failed++;
    }
  }
  if (options.json) console.log(JSON.stringify(answers, null, 2));
  return failed > 0 ? 1 : 0;
}

void runCli(USAGE, main);
