/**
 * The InferenceBackend contract (test/core/inference/backend.cases.ts) in Node: onnxruntime-web's wasm, onnxruntime-node
 * on CPU, and the Node build's inference thread (worker/runtimes/node/threaded-backend.ts). workerd runs the same cases in
 * test/core/inference/backend-contract.workerd.test.ts.
 */
import { readFileSync } from 'node:fs';
import { readCheckpoint } from '../../../models/toolchain/checkpoint/index.js';
import { exportOnnx } from '../../../models/toolchain/export/index.js';
import { createOrtNodeBackend } from '../../../worker/runtimes/node/inference/ort-node.js';
import { createOrtWebBackendForNode } from '../../../worker/runtimes/node/inference/ort-web-node.js';
import { createThreadedOrtNodeBackend, type ThreadedBackend } from '../../../worker/runtimes/node/threaded-backend.js';
import { type BackendTarget, defineBackendSuite } from './backend.cases.js';
import { readGolden } from '../../helpers/golden.js';
import { buildTinyClassifier } from '../../helpers/tiny-model.js';

let goldenM0: ReturnType<BackendTarget['golden']> | undefined;
function golden(): ReturnType<BackendTarget['golden']> {
  goldenM0 ??= (async () => {
    const set = readGolden('m0');
    const onnx = exportOnnx(readCheckpoint(new Uint8Array(readFileSync(set.checkpointPath))).stateDict, 'm0', {
      graph: 'optimized',
    });
    return { onnx, input: set.input, dims: set.inputDims, logits: set.logits };
  })();
  return goldenM0;
}
const tiny = async () => buildTinyClassifier();

const targets: BackendTarget[] = [
  { name: 'onnxruntime-web (wasm) in Node', backend: createOrtWebBackendForNode, tiny, golden },
  {
    name: 'onnxruntime-node (cpu)',
    backend: async () => createOrtNodeBackend({ device: 'cpu', threads: 1 }),
    tiny,
    golden,
  },
  {
    name: 'inference thread (onnxruntime-node cpu)',
    backend: () => createThreadedOrtNodeBackend({ device: 'cpu', threads: 1 }),
    tiny,
    golden,
    dispose: (backend) => (backend as ThreadedBackend).terminate(),
  },
];

for (const target of targets) defineBackendSuite(() => target);
