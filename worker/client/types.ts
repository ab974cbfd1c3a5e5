/** The API's answers as the client returns them: the contract's own types (worker/api), declared there once. */
export type { BatchItem, BatchResult, ClassifyResult } from '../api/classify.js';
export type { FailedImage, FallbackReport, Prediction } from '../api/common.js';
export type { EmbedBatchResult, EmbedEncoding, EmbedResult } from '../api/embed.js';
export type { Model, Model as ModelInfo, ModelsResult } from '../api/models.js';
export type { Problem, ProblemCode } from '../api/problems.js';
export type { Timing } from '../api/timing.js';
