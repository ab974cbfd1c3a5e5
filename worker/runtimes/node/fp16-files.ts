/**
 * Node only: on the CPU device, fp16 models are refused with a reason instead of served. onnxruntime's CPU provider
 * has fp16 kernels for few of their ops and runs the rest through fp32 casts it inserts around each one: the same
 * answers as the fp32 build, only slower, so a CPU host should serve `-fp32`. The refusal is a failed model read,
 * which the registry answers as 503 model-unavailable with this message; the fp32 twins are served as usual.
 */
import { checkManifest } from '../../core/manifest/check.js';
import { MANIFEST_FILE } from '../../core/manifest/manifest.js';
import type { ModelFiles } from '../../service/registry/model-files.js';

export function refuseFp16Models(files: ModelFiles, device: string): ModelFiles {
  /** fp16 model files named by the manifest last read (the registry reads it before any model). */
  let fp16 = new Map<string, string>();
  return {
    async read(name) {
      const known = fp16.get(name);
      if (known !== undefined) {
        throw new Error(
          `${known} is an fp16 build for CUDA; this server runs on ${device}, where onnxruntime would only cast it ` +
            `back to fp32 op by op (slower, no more accurate): use ${known.replace(/-fp16$/, '-fp32')}`,
        );
      }
      const bytes = await files.read(name);
      if (name === MANIFEST_FILE && bytes) {
        try {
          const manifest = checkManifest(JSON.parse(new TextDecoder().decode(bytes)));
          fp16 = new Map(manifest.models.filter((m) => m.precision === 'fp16').map((m) => [m.file, m.name]));
        } catch {
          // An invalid manifest is the registry's to report.
        }
      }
      return bytes;
    },
  };
}
