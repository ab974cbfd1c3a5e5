export { agreementOf, compareModels, cosineSimilarity, topIndices, type AgreementMetrics } from './compare.js';
export { asBatch, type ImageBatch, type ImageInput } from './images.js';
export { latencyStats, measureLatencies, type LatencyOptions, type LatencyStats } from './latency.js';
export {
  formatVerifyReport,
  verifyModels,
  type BackendVerification,
  type VerifyModel,
  type VerifyOptions,
  type VerifyReport,
} from './report.js';
