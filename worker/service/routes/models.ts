/**
 * GET /v1/models: every model in the manifest, with where its weights came from and whether it is loaded; with a GPU
 * origin, the origin's models too (`runs: 'origin'`), from its own listing (cached briefly by the origin client).
 */
import type { Hono } from 'hono';
import { isSyntheticSource, type ManifestModel } from '../../core/manifest/manifest.js';
import type { Services } from '../services.js';

/** Where each model's weights came from, in words a client can show. */
function describeSource(source: ManifestModel['source']): { kind: 'synthetic-fixture' | 'checkpoint'; note: string } {
  return isSyntheticSource(source)
    ? {
        kind: 'synthetic-fixture',
        note: 'random "trained-looking" test weights, not trained on ImageNet: predictions are meaningless',
      }
    : { kind: 'checkpoint', note: `converted from the ${source.format} checkpoint ${source.checkpoint}` };
}

export function registerModelsRoute(app: Hono, { registry, config, execution, origin }: Services): void {
  app.get('/v1/models', async (c) => {
    // Both listings are read at once: a slow origin costs this request its timeout at most, once per cache period.
    const [manifest, originListing] = await Promise.all([registry.manifest(), origin?.models()]);
    const heads = await registry.heads();
    const here = new Set([...manifest.models, ...(manifest.heads ?? [])].map((model) => model.name));
    const originModels = (originListing?.listing?.models ?? [])
      .filter((model) => typeof model.name === 'string' && !here.has(model.name))
      .map((model) => ({
        ...model,
        default: model.name === config.defaultModel,
        runs: 'origin' as const,
        available: originListing?.available === true,
        ...(originListing?.available ? {} : { reason: originListing?.reason }),
      }));
    return c.json({
      backend: registry.backend.name,
      ...(execution ? { execution: execution() } : {}),
      default: config.defaultModel,
      models: [
        ...manifest.models.map((model) => ({
          name: model.name,
          id: model.id,
          variant: model.variant,
          precision: model.precision,
          bytes: model.bytes,
          sha256: model.sha256,
          source: { ...model.source, ...describeSource(model.source) },
          input: model.input,
          labels: model.labels,
          classes: model.output.shape[1],
          // Width of /v1/embed's vectors; null for a build from before embeddings (501 no-embedding).
          embedding_dims: model.embedding?.shape[1] ?? null,
          preprocessing: model.preprocessing,
          default: model.name === config.defaultModel,
          loaded: registry.isLoaded(model.name),
          runs: 'edge' as const,
          available: true,
        })),
        // A trained head: its base's input and source, its own labels, classes and file.
        ...[...heads.values()].map(({ entry, head, base }) => ({
          name: head.name,
          id: entry.id,
          variant: base.variant,
          precision: base.precision,
          bytes: head.bytes,
          sha256: head.sha256,
          source: { ...base.source, ...describeSource(base.source) },
          input: base.input,
          labels: head.labels,
          classes: head.classes,
          embedding_dims: base.embedding?.shape[1] ?? null,
          preprocessing: base.preprocessing,
          default: head.name === config.defaultModel,
          loaded: registry.isLoaded(base.name),
          runs: 'edge' as const,
          available: true,
          head: {
            base: base.name,
            labels: head.classes,
            held_out_accuracy: head.report?.heldOutAccuracy ?? null,
            ...(head.report?.top5 !== undefined ? { top5: head.report.top5 } : {}),
            ...(head.report ? { ece: head.report.ece, images: head.report.images, report: head.report.file } : {}),
          },
        })),
        ...originModels,
      ],
      ...(originListing
        ? {
            origin: {
              available: originListing.available,
              ...(originListing.reason ? { reason: originListing.reason } : {}),
              ...(originListing.listing
                ? { backend: originListing.listing.backend, execution: originListing.listing.execution }
                : {}),
            },
          }
        : {}),
    });
  });
}
