/**
 * Generators for the hostile checkpoints of issue 9 (each one small on disk, costly to a naive reader), shared by
 * the tests and `npm run bench:checkpoint`. Each returns the file's bytes.
 */
import { bytesOf, float32Bytes, OP, pickle, shortStr, stateDictPickle, torchZip } from './pickle.js';

const weights = stateDictPickle([{ name: 'w', storageType: 'FloatStorage', key: '0', numel: 2, size: [2] }]);
const withWeights = (dataPkl: Uint8Array) => torchZip(dataPkl, { '0': float32Bytes([1, 2]) });

/** `{model: <weights>, ((…((),)…),): None}`: a dict key that is a tuple nested `depth` deep. */
export function deeplyNestedKey(depth: number): Uint8Array {
  const key = bytesOf(OP.EMPTY_TUPLE, new Uint8Array(depth).fill(OP.TUPLE1));
  return withWeights(pickle(2, OP.EMPTY_DICT, OP.MARK, shortStr('model'), weights, key, OP.NONE, OP.SETITEMS));
}

/**
 * `{model: <weights>, l0: None}` where the key l0 ∋ l1 ∋ … ∋ l(depth-1), but every list is put into its parent while
 * still empty and filled only afterwards, through the memo: nesting that a depth count taken at insertion misses.
 */
export function nestedAfterInsertion(depth: number): Uint8Array {
  const memo = (i: number) => [0x72, i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff, i >>> 24]; // LONG_BINPUT
  const get = (i: number) => [0x6a, i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff, i >>> 24]; // LONG_BINGET
  const lists: number[] = [];
  for (let i = 0; i < depth; i++) lists.push(OP.EMPTY_LIST, ...memo(i), OP.POP);
  // l(i).append(l(i+1)) for i from the top down: each parent is already complete when its child grows.
  const links: number[] = [];
  for (let i = 0; i < depth - 1; i++) links.push(...get(i), ...get(i + 1), OP.APPEND, OP.POP);
  return withWeights(pickle(2, bytesOf(lists, links), OP.EMPTY_DICT, OP.MARK, shortStr('model'), weights, get(0), OP.NONE, OP.SETITEMS));
}
