/**
 * The pipeline without HTTP: a task run on images that have been read — the model lease, every image decoded and
 * preprocessed into one NCHW batch tensor, one session call for the batch, then the task's postprocessing per image.
 * An image that fails gets its own problem; the others still run. The HTTP handler (handler.ts) and any other caller
 * (a queue consumer) run tasks through here.
 */
import type * as v from 'valibot';
import { CodedError } from '../../core/errors.js';
import type { OutputTensor } from '../../core/inference/backend.js';
import type { ManifestModel } from '../../core/manifest/manifest.js';
import type { ImageJob, ImageTiming } from '../../core/model-input/image-input.js';
import { ApiError, apiError } from '../problems.js';
import type { LoadedModel, ModelLease, ModelLoadTiming } from '../registry/registry.js';
import { takeLoadTiming } from '../registry/registry.js';
import type { Services } from '../services.js';
import type { Input } from './inputs.js';
import type { ModelRow, RunNeeds, Task } from './task.js';

type RunServices = Pick<Services, 'config' | 'images' | 'clock' | 'registry'>;

/** One image's part of a task's outcome: its answer members and stages, or its problem. */
export type ImageResult =
  | { ok: true; answer: Record<string, unknown>; timing: ImageTiming }
  | { ok: false; error: ApiError };

export interface TaskOutcome {
  /** In the order of the inputs. */
  images: ImageResult[];
  /** One session call for the whole batch; 0 when no image reached the model. */
  inference_ms: number;
  /** From asking for the model to holding it: its load, or waiting for another request's load or a switch. */
  model_wait_ms: number;
  /** The model load's stages, on the one request that loaded it. */
  load?: ModelLoadTiming;
  /** When the run ended (the clock's time), before the task's postprocessing. */
  ranAt: number;
}

/**
 * Holds `entry`'s model while `work` runs. The load starts now (so it overlaps the decoding) and is kept alive past
 * the caller's end (`keepAlive`): a request whose images all fail still leaves the model loaded for the next one. The
 * lease keeps the session from being released (to make room for another model) until `work` is done.
 */
export async function withModelLease<T>(
  registry: Services['registry'],
  entry: ManifestModel,
  keepAlive: (work: Promise<unknown>) => void,
  work: (model: () => Promise<LoadedModel>) => Promise<T>,
): Promise<T> {
  const cold = !registry.isLoaded(entry.name);
  const lease: Promise<ModelLease> = registry.acquire(entry);
  // A failed load reaches the caller when it asks for the model; keepAlive only keeps it running.
  const settled = lease.catch(() => undefined);
  if (cold) keepAlive(settled);
  try {
    return await work(() => lease.then((held) => held.value));
  } finally {
    lease.then(
      (held) => held.release(),
      () => undefined,
    );
  }
}

/** `task` on `inputs` with `entry`'s model: failed inputs (a URL that could not be fetched) keep their slots. */
export async function runTask<P extends { model: string }>(
  services: RunServices,
  request: {
    task: Pick<Task<v.GenericSchema, P>, 'needs' | 'image'>;
    params: P;
    entry: ManifestModel;
    inputs: readonly Input[];
    keepAlive: (work: Promise<unknown>) => void;
  },
): Promise<TaskOutcome> {
  const { task, params, entry } = request;
  return withModelLease(services.registry, entry, request.keepAlive, async (model) => {
    const run = await runModel(services, { inputs: request.inputs, entry, model, needs: task.needs(params) });
    const ranAt = services.clock();
    const images = await Promise.all(
      run.slots.map(async (slot): Promise<ImageResult> => {
        if ('error' in slot) return { ok: false, error: slot.error };
        return { ok: true, answer: await task.image(slot.row, run.model!, params), timing: slot.timing };
      }),
    );
    return {
      images,
      inference_ms: run.inference_ms,
      model_wait_ms: run.model_wait_ms,
      ...(run.model ? { load: takeLoadTiming(run.model) } : {}),
      ranAt,
    };
  });
}

type Slot = { row: ModelRow; timing: ImageTiming } | { error: ApiError };

/**
 * Decodes and preprocesses the inputs into one tensor, then runs it. `model` is asked for once the images are
 * written (its load has been running meanwhile), and not at all when every image failed.
 */
async function runModel(
  { config, images: support, clock }: RunServices,
  request: { inputs: readonly Input[]; entry: ManifestModel; model: () => Promise<LoadedModel>; needs: RunNeeds },
): Promise<{ slots: Slot[]; inference_ms: number; model_wait_ms: number; model?: LoadedModel }> {
  const { inputs, entry, needs } = request;
  const preprocessing = entry.preprocessing;
  const inputSize = preprocessing.centerCrop;
  const job: ImageJob = {
    limits: {
      maxPixels: config.maxImagePixels,
      maxDecodeBytes: config.maxDecodeBytes,
      resizeShortSide: preprocessing.resizeShortSide,
    },
    preprocessing,
  };
  const imageElements = 3 * inputSize * inputSize;
  // Sized for the whole batch up front; image i is written to row i, and failed images' rows are squeezed out below.
  const tensor = support.allocate(inputs.length * imageElements);
  const written: ({ timing: ImageTiming } | { error: ApiError })[] = new Array(inputs.length);
  let next = 0;
  const writeNext = async (): Promise<void> => {
    while (next < inputs.length) {
      const index = next++;
      const input = inputs[index];
      if ('error' in input) {
        written[index] = { error: input.error };
        continue;
      }
      try {
        if (input.bytes.byteLength === 0) throw new ApiError('empty-body', 'the image is empty');
        written[index] = { timing: await support.write(input.bytes, job, tensor, index * imageElements, clock) };
      } catch (error) {
        if (!(error instanceof CodedError)) throw error;
        written[index] = { error: apiError(error) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(support.parallel, inputs.length) }, writeNext));

  const placed: ({ row: number; timing: ImageTiming } | { error: ApiError })[] = [];
  let rows = 0;
  for (const [index, result] of written.entries()) {
    if ('error' in result) {
      placed.push(result);
      continue;
    }
    if (index !== rows) tensor.copyWithin(rows * imageElements, index * imageElements, (index + 1) * imageElements);
    placed.push({ row: rows++, timing: result.timing });
  }
  if (rows === 0) return { slots: placed as { error: ApiError }[], inference_ms: 0, model_wait_ms: 0 };

  const modelAsked = clock();
  const model = await request.model();
  const modelWaitMs = clock() - modelAsked;
  const inferenceStarted = clock();
  const output = await model.session
    .run(tensor.subarray(0, rows * imageElements), [rows, 3, inputSize, inputSize])
    .catch((error: unknown) => {
      if (error instanceof CodedError) throw error; // e.g. a batching queue that is full
      const reason = error instanceof Error ? error.message : String(error);
      throw new ApiError('model-unavailable', `running ${model.entry.name} failed: ${reason}`, {
        details: { model: model.entry.name },
        cause: error,
      });
    });
  const inferenceMs = clock() - inferenceStarted;
  if (output.dims.length !== 2 || output.dims[0] !== rows || output.dims[1] !== model.classes) {
    throw new ApiError(
      'model-unavailable',
      `model ${model.entry.name} returned logits of shape [${output.dims}], expected [${rows}, ${model.classes}]`,
    );
  }
  if (!output.data.every(Number.isFinite)) {
    throw new ApiError('model-unavailable', `model ${model.entry.name} returned non-finite logits`);
  }
  const embedding = needs.embedding ? checkedEmbedding(model, output.embedding, rows) : undefined;
  const slots = placed.map((slot): Slot => {
    if ('error' in slot) return slot;
    const rowOf = (data: Float32Array, width: number) => data.subarray(slot.row * width, (slot.row + 1) * width);
    const row: ModelRow = {
      logits: rowOf(output.data, model.classes),
      ...(embedding ? { embedding: rowOf(embedding.data, embedding.dims) } : {}),
      ...(needs.input ? { input: rowOf(tensor, imageElements) } : {}),
    };
    return { row, timing: slot.timing };
  });
  return { slots, inference_ms: inferenceMs, model_wait_ms: modelWaitMs, model };
}

/** The run's embedding output, checked against the manifest; a model without it is the request's 501. */
function checkedEmbedding(
  model: LoadedModel,
  embedding: OutputTensor | undefined,
  rows: number,
): { data: Float32Array; dims: number } {
  const dims = model.entry.embedding?.shape[1];
  if (!embedding || dims === undefined) {
    throw new ApiError('no-embedding', `model ${model.entry.name} was built without an embedding output; rebuild it`, {
      details: { model: model.entry.name },
    });
  }
  if (embedding.dims.length !== 2 || embedding.dims[0] !== rows || embedding.dims[1] !== dims) {
    throw new ApiError(
      'model-unavailable',
      `model ${model.entry.name} returned an embedding of shape [${embedding.dims}], expected [${rows}, ${dims}]`,
    );
  }
  return { data: embedding.data, dims };
}
