/**
 * The standalone ONNX of a trained head (the base graph with the head in place of the ImageNet classifier), written
 * beside the head file. The trainer calls `exportHeadModels` when it is set: this file is the seam, and is replaced
 * by the exporter itself.
 */
import type { HeadFile } from '../../../worker/core/manifest/head.js';
import type { ManifestModel } from '../../../worker/core/manifest/manifest.js';
import type { ToolchainHost } from '../host.js';

export interface HeadExportRequest {
  head: HeadFile;
  /** The base model's manifest entry, and the folder holding its file. */
  base: ManifestModel;
  baseDir: string;
  /** Build folders the head was written to (each has the base). */
  outDirs: string[];
  host: ToolchainHost;
  /** A few training images (paths) to verify the export on. */
  images: string[];
}

export type HeadExport = (request: HeadExportRequest) => Promise<{ files: string[]; notes: string[] } | undefined>;

/** Unset until the standalone export exists. */
export const exportHeadModels: HeadExport | undefined = undefined;
