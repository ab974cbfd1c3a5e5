/**
 * The Node entry (GPU hosts, or any server): `npm run start:node -- --port 8080 --device cuda|cpu|auto --threads N`.
 * Same app, routes, errors and limits as the Worker; onnxruntime-node instead of onnxruntime-web, optional dynamic
 * batching, and a graceful stop on SIGTERM/SIGINT that answers every request already received before exiting 0.
 */
import { parseNodeCli, USAGE } from './lib/node-options.js';
import { EXIT_USAGE, formatCliError, isUsageError, UsageError, wantsHelp } from './lib/cli.js';
import { StartupError } from '../worker/runtimes/node/readiness.js';
import { consoleLogger, startNodeServer } from '../worker/runtimes/node/server.js';

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (wantsHelp(argv)) {
    console.log(USAGE);
    return 0;
  }
  let parsed;
  try {
    parsed = parseNodeCli(argv, process.env, process.cwd());
  } catch (error) {
    if (!isUsageError(error)) throw error;
    console.error(formatCliError(error, [UsageError]));
    return EXIT_USAGE;
  }
  if (parsed.help) return 0;

  const server = await startNodeServer({ ...parsed.options, log: consoleLogger });
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      // Closed for new connections before it says so.
      const closing = server.close();
      consoleLogger('info', `${signal}: stopping; ${server.inFlight()} request(s) in flight will be answered`);
      // A second signal means "now".
      process.once(signal, () => resolve(1));
      void closing.then((complete) => resolve(complete ? 0 : 1));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    // A known reason (e.g. DEFAULT_MODEL not built) is the whole message.
    if (error instanceof StartupError) {
      consoleLogger('error', `cannot start: ${error.message}`);
      process.exit(1);
    }
    // A missing models folder or a taken port is one line (its stack only with DEBUG=1); a bug keeps its stack.
    consoleLogger('error', `failed to start: ${formatCliError(error).replace(/^error: /, '')}`);
    process.exit(1);
  },
);
