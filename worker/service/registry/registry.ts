/**
 * The models one isolate knows: the manifest, label sets and inference sessions, each read or created on first use
 * and then shared by every request. Loads are cached as promises so concurrent requests wait for one load; a failed
 * load is dropped from the cache so a later request tries again. Sessions are leased (see residency.ts): with
 * `maxLoaded`, a session nobody holds is released to make room for another model.
 */
import { MANIFEST_FILE, sha256Hex, type Manifest, type ManifestModel } from '../../core/manifest/manifest.js';
import { ApiError } from '../problems.js';
import type { InferenceBackend, ModelSession } from '../../core/inference/backend.js';
import { serializeRuns } from '../../core/inference/serial.js';
import { LoadTimeoutError, Residency, type Lease } from './residency.js';
import type { ModelFiles } from './model-files.js';
import { checkHeadFile, checkLabels, checkManifest } from '../../core/manifest/check.js';
import type { ClassLabel } from '../../core/manifest/manifest.js';
import type { ManifestHead } from '../../core/manifest/head.js';
import { type HeadWeights, headLogits, headWeights } from '../../core/postprocess/head.js';

/**
 * A trained head as the pipeline sees it: a model entry of its own (its name, its labels and classes, a sha256 that
 * combines the base file's and the head file's, so cached answers of one never answer for the other) that runs on
 * its base model's session.
 */
export interface HeadServing {
  entry: ManifestModel;
  head: ManifestHead;
  base: ManifestModel;
}

/** The entry a head is served as: its base's, renamed, with the head's outputs and labels. */
async function headEntry(head: ManifestHead, base: ManifestModel): Promise<ManifestModel> {
  return {
    ...base,
    name: head.name,
    id: `${head.name}@${base.id}`,
    sha256: await sha256Hex(new TextEncoder().encode(`${base.sha256}:${head.sha256}`)),
    output: { name: 'logits', shape: ['N', head.classes], dtype: 'float32' },
    labels: head.labels,
  };
}

/** The base's session with the head applied to its embedding: (W·e + b) / T in place of the base's logits. */
function headSession(base: ModelSession, weights: HeadWeights, name: string): ModelSession {
  return {
    inputName: base.inputName,
    outputName: base.outputName,
    async run(input, dims) {
      const result = await base.run(input, dims);
      const rows = dims[0];
      const embedding = result.embedding;
      if (!embedding || embedding.dims[0] !== rows || embedding.dims[1] !== weights.dims) {
        throw new Error(`the base of ${name} returned no embedding of width ${weights.dims}`);
      }
      return { data: headLogits(weights, embedding.data, rows), dims: [rows, weights.classes], embedding };
    },
    // The base's session belongs to the base's lease.
    release: async () => undefined,
  };
}

export type SessionWrapper = (session: ModelSession, entry: ManifestModel) => ModelSession;

export interface LoadedModel {
  entry: ManifestModel;
  session: ModelSession;
  labels: ClassLabel[];
  classes: number;
  /**
   * How its load went, for the one request that reports it (takeLoadTiming): a cold request shows where its time
   * went, later requests show nothing.
   */
  loadTiming?: ModelLoadTiming;
}

/** The stages of loading one model, in milliseconds (the injected clock; workerd advances it only across I/O). */
export interface ModelLoadTiming {
  model_read_ms: number;
  integrity_ms: number;
  session_ms: number;
}

/** The load stages of this model, once: the first request to take them reports them, every later one gets none. */
export function takeLoadTiming(model: LoadedModel): ModelLoadTiming | undefined {
  const timing = model.loadTiming;
  model.loadTiming = undefined;
  return timing;
}

/**
 * A session created before any request (workerd: at isolate start-up, from a model bundled into the script), with
 * the bytes it was created from. The registry adopts it for the manifest entry those bytes match (size and sha256),
 * so a fresh isolate's first request finds its model ready; when no entry matches, it is released unused.
 */
export interface StartupModel {
  bytes: Uint8Array;
  session: Promise<ModelSession>;
}

/** A request's hold on a loaded model: the session is not released while any lease on it is out. */
export type ModelLease = Lease<LoadedModel>;

export interface RegistryOptions {
  /**
   * Applied to each loaded model's session (already queued one call at a time), e.g. to batch concurrent requests
   * (Node).
   */
  wrapSession?: SessionWrapper;
  /** Most sessions alive at once (ServiceConfig.maxLoadedModels); unset: no limit. */
  maxLoaded?: number;
  /** For the load stages; performance.now by default. */
  clock?: () => number;
  /** A session created at start-up, adopted by the first load of the model it was created from. */
  startup?: StartupModel;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function unavailable(detail: string, model?: string, cause?: unknown): ApiError {
  return new ApiError('model-unavailable', detail, { details: model ? { model } : {}, cause });
}

/** Releases a start-up session nobody adopted (when it was created at all). */
function releaseStartup(startup: StartupModel): void {
  startup.session.then((session) => session.release()).catch(() => undefined);
}

/** Caches a promise per key; a rejected promise is evicted so the next caller retries. */
class PromiseCache<T> {
  private readonly entries = new Map<string, Promise<T>>();

  get(key: string, create: () => Promise<T>): Promise<T> {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = create();
      this.entries.set(key, entry);
      entry.catch(() => this.entries.delete(key));
    }
    return entry;
  }
}

export class ModelRegistry {
  private readonly manifests = new PromiseCache<Manifest>();
  private readonly headEntries = new PromiseCache<Map<string, HeadServing>>();
  private readonly headFiles = new PromiseCache<HeadWeights>();
  private readonly labelSets = new PromiseCache<ClassLabel[]>();
  private readonly models: Residency<LoadedModel>;
  private readonly wrapSession?: SessionWrapper;
  private readonly clock: () => number;
  private readonly maxLoaded: number;
  /** Unclaimed until the first load of a model of its size checks it; then undefined either way. */
  private startup?: StartupModel;

  constructor(
    private readonly files: ModelFiles,
    readonly backend: InferenceBackend,
    options: RegistryOptions = {},
  ) {
    this.wrapSession = options.wrapSession;
    this.clock = options.clock ?? (() => performance.now());
    this.startup = options.startup;
    this.maxLoaded = options.maxLoaded ?? Infinity;
    this.models = new Residency(this.maxLoaded, (model) => model.session.release());
  }

  /** The checked manifest; 503 model-unavailable when none is deployed or it is invalid. */
  manifest(): Promise<Manifest> {
    return this.manifests.get(MANIFEST_FILE, async () => {
      const json = await this.readJson(MANIFEST_FILE);
      if (json === null) throw unavailable(`no models are deployed: ${MANIFEST_FILE} was not found`);
      let manifest: Manifest;
      try {
        manifest = checkManifest(json);
      } catch (error) {
        throw unavailable(`${MANIFEST_FILE} is invalid: ${errorText(error)}`, undefined, error);
      }
      this.releaseUnmatchedStartup(manifest);
      return manifest;
    });
  }

  /** The manifest's trained heads by name, each with the entry it is served as and its base. */
  heads(): Promise<Map<string, HeadServing>> {
    return this.headEntries.get(MANIFEST_FILE, async () => {
      const manifest = await this.manifest();
      const heads = new Map<string, HeadServing>();
      for (const head of manifest.heads ?? []) {
        // checkManifest made sure the base is there.
        const base = manifest.models.find((model) => model.name === head.base)!;
        heads.set(head.name, { entry: await headEntry(head, base), head, base });
      }
      return heads;
    });
  }

  /** The manifest entry (a model's, or the one a head is served as) for an API name, or undefined (then the GPU origin may serve it). */
  async lookup(name: string): Promise<ManifestModel | undefined> {
    const model = (await this.manifest()).models.find((entry) => entry.name === name);
    return model ?? (await this.heads()).get(name)?.entry;
  }

  /** The manifest entry for an API name; 404 unknown-model when the manifest has no such name. */
  async find(name: string): Promise<ManifestModel> {
    const manifest = await this.manifest();
    const entry = await this.lookup(name);
    if (!entry) {
      const known = [...manifest.models, ...(manifest.heads ?? [])].map((model) => model.name);
      throw new ApiError('unknown-model', `no model named ${JSON.stringify(name)}; available: ${known.join(', ')}`, {
        details: { model: name, available: known },
      });
    }
    return entry;
  }

  /** Whether the model's session exists (a head's: its base's, once the head has been asked for). */
  isLoaded(name: string): boolean {
    return this.models.isLoaded(this.headBases.get(name) ?? name);
  }

  /** Head name → base name, for isLoaded (filled as heads are acquired). */
  private readonly headBases = new Map<string, string>();

  /**
   * The model's session and labels, loading them on first use. Release the lease when the request is done with the
   * model.
   */
  async acquire(entry: ManifestModel): Promise<ModelLease> {
    const serving = (await this.heads()).get(entry.name);
    if (serving) return this.acquireHead(serving);
    const { name } = entry;
    return this.models
      .acquire(name, () => this.createModel(entry))
      .catch((error: unknown) => {
        // Load failures are already ApiErrors; a load abandoned by its request is as unavailable.
        if (error instanceof LoadTimeoutError) throw unavailable(`${name} is still loading; try again`, name, error);
        throw error;
      });
  }

  /** A head: a lease on its base model (loaded as any model), its weights and labels, and the head applied. */
  private async acquireHead({ entry, head, base }: HeadServing): Promise<ModelLease> {
    this.headBases.set(head.name, base.name);
    const lease = await this.acquire(base);
    try {
      const [weights, labels] = await Promise.all([
        this.headWeights(head),
        this.labels(head.labels, head.classes, head.name),
      ]);
      const loadTiming = takeLoadTiming(lease.value);
      const model: LoadedModel = {
        entry,
        session: headSession(lease.value.session, weights, head.name),
        labels,
        classes: head.classes,
        ...(loadTiming ? { loadTiming } : {}),
      };
      return { value: model, release: () => lease.release() };
    } catch (error) {
      lease.release();
      throw error;
    }
  }

  /** A head file, read once, checked against its manifest entry (size, sha256, contents). */
  private headWeights(head: ManifestHead): Promise<HeadWeights> {
    return this.headFiles.get(`${head.file}#${head.sha256}`, async () => {
      const bytes = await this.files.read(head.file).catch((error: unknown) => {
        throw unavailable(`reading ${head.file} failed: ${errorText(error)}`, head.name, error);
      });
      if (bytes === null) throw unavailable(`head file ${head.file} is missing`, head.name);
      if (bytes.byteLength !== head.bytes || (await sha256Hex(bytes)) !== head.sha256)
        throw unavailable(`head file ${head.file} does not match the manifest's bytes and sha256`, head.name);
      try {
        return headWeights(checkHeadFile(JSON.parse(new TextDecoder().decode(bytes)), head));
      } catch (error) {
        throw unavailable(`head file ${head.file} is invalid: ${errorText(error)}`, head.name, error);
      }
    });
  }

  /** A start-up session no manifest entry can be (no entry of its size) holds wasm memory for nothing. */
  private releaseUnmatchedStartup(manifest: Manifest): void {
    const startup = this.startup;
    if (!startup || manifest.models.some((model) => model.bytes === startup.bytes.byteLength)) return;
    this.dropStartup();
  }

  /** Forgets the unclaimed start-up session and releases it. */
  private dropStartup(): void {
    if (this.startup) releaseStartup(this.startup);
    this.startup = undefined;
  }

  /**
   * An unclaimed start-up session holds a session's memory outside the residency's count: once other models fill
   * `maxLoaded` without it (the default model never asked for), it goes, so the isolate never holds more sessions
   * than the limit it was sized for.
   */
  private releaseStartupIfCrowded(): void {
    if (this.startup && this.models.occupied + 1 > this.maxLoaded) this.dropStartup();
  }

  /**
   * The start-up session when it was created from this entry's file (same size and sha256), else undefined; a
   * start-up session that failed is forgotten, and the entry loads from its file as usual.
   */
  private async adoptStartup(
    entry: ManifestModel,
  ): Promise<{ session: ModelSession; integrityMs: number } | undefined> {
    const startup = this.startup;
    if (!startup || startup.bytes.byteLength !== entry.bytes) return undefined;
    this.startup = undefined;
    const checkStarted = this.clock();
    const matches = (await sha256Hex(startup.bytes)) === entry.sha256;
    const integrityMs = this.clock() - checkStarted;
    const session = await startup.session.catch(() => undefined);
    if (matches && session) return { session, integrityMs };
    releaseStartup(startup);
    return undefined;
  }

  private async createModel(entry: ManifestModel): Promise<LoadedModel> {
    const classes = entry.output.shape[1];
    const labels = await this.labels(entry.labels, classes, entry.name);
    const adopted = await this.adoptStartup(entry);
    if (adopted) {
      // Nothing was read or created for this request: the start-up did it.
      const loadTiming = { model_read_ms: 0, integrity_ms: adopted.integrityMs, session_ms: 0 };
      return this.loadedModel(entry, adopted.session, labels, loadTiming);
    }
    this.releaseStartupIfCrowded();
    const readStarted = this.clock();
    const bytes = await this.files.read(entry.file).catch((error: unknown) => {
      throw unavailable(`reading ${entry.file} failed: ${errorText(error)}`, entry.name, error);
    });
    if (bytes === null) throw unavailable(`model file ${entry.file} is missing`, entry.name);
    if (bytes.byteLength !== entry.bytes) {
      throw unavailable(
        `model file ${entry.file} has ${bytes.byteLength} bytes, the manifest says ${entry.bytes}`,
        entry.name,
      );
    }
    const checkStarted = this.clock();
    const digest = await sha256Hex(bytes);
    if (digest !== entry.sha256) {
      throw unavailable(`model file ${entry.file} does not match the manifest's sha256`, entry.name);
    }
    const sessionStarted = this.clock();
    let session: ModelSession;
    try {
      session = await this.backend.load(bytes);
    } catch (error) {
      throw unavailable(
        `creating the ${this.backend.name} session for ${entry.name} failed: ${errorText(error)}`,
        entry.name,
        error,
      );
    }
    const loadTiming = {
      model_read_ms: checkStarted - readStarted,
      integrity_ms: sessionStarted - checkStarted,
      session_ms: this.clock() - sessionStarted,
    };
    return this.loadedModel(entry, session, labels, loadTiming);
  }

  private loadedModel(
    entry: ManifestModel,
    session: ModelSession,
    labels: ClassLabel[],
    loadTiming: ModelLoadTiming,
  ): LoadedModel {
    const serialized = serializeRuns(session);
    return {
      entry,
      session: this.wrapSession ? this.wrapSession(serialized, entry) : serialized,
      labels,
      classes: entry.output.shape[1],
      loadTiming,
    };
  }

  private labels(labelsId: string, classes: number, model: string): Promise<ClassLabel[]> {
    const file = `${labelsId}.labels.json`;
    return this.labelSets.get(`${file}#${classes}`, async () => {
      const json = await this.readJson(file, model);
      if (json === null) throw unavailable(`label file ${file} is missing`, model);
      try {
        return checkLabels(json, classes, labelsId);
      } catch (error) {
        throw unavailable(errorText(error), model, error);
      }
    });
  }

  private async readJson(file: string, model?: string): Promise<unknown | null> {
    let bytes: Uint8Array | null;
    try {
      bytes = await this.files.read(file);
    } catch (error) {
      throw unavailable(`reading ${file} failed: ${errorText(error)}`, model, error);
    }
    if (bytes === null) return null;
    try {
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch (error) {
      throw unavailable(`${file} is not valid JSON: ${errorText(error)}`, model, error);
    }
  }
}
