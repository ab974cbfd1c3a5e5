/**
 * The Node server as the tests start it: the conformance models and limits, a random loopback port, one CPU thread,
 * no logging; each test file overrides what it is about.
 */
import { parseConfig } from '../../worker/service/config.js';
import { type NodeServer, type NodeServerOptions, startNodeServer } from '../../worker/runtimes/node/server.js';
import { CONFORMANCE_CONFIG } from '../service/conformance/target.js';

export function startTestNodeServer(
  modelsDir: string,
  overrides: Partial<NodeServerOptions> = {},
): Promise<NodeServer> {
  return startNodeServer({
    modelsDir,
    config: parseConfig(CONFORMANCE_CONFIG),
    port: 0,
    host: '127.0.0.1',
    device: 'cpu',
    threads: 1,
    log: () => undefined,
    logLine: () => undefined,
    ...overrides,
  });
}
