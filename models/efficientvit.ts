/**
 * EfficientViT (Liu et al., CVPR 2023; microsoft/Cream `EfficientViT/classification/model/efficientvit.py` and
 * `build.py`) as data: the variant table, the eval-mode layer sequence every consumer walks (float64 reference,
 * ONNX exporters), the expected parameter names and shapes in the official key naming, and state-dict validation.
 * No runtime imports: this file is shared by the toolchain and anything that only needs the numbers.
 */
import { VARIANTS, type Variant } from '../worker/core/manifest/manifest.js';
import { CheckpointError, type StateDict, type Tensor } from './state-dict.js';

export interface EfficientVitConfig {
  imageSize: number;
  patchSize: number;
  inChannels: number;
  numClasses: number;
  embedDim: readonly [number, number, number];
  keyDim: readonly [number, number, number];
  depth: readonly [number, number, number];
  numHeads: readonly [number, number, number];
  windowSize: readonly [number, number, number];
  /** Kernel of the depthwise conv on q, per head index (shared by all stages). */
  kernels: readonly [number, number, number, number];
}

const COMMON = {
  imageSize: 224,
  patchSize: 16,
  inChannels: 3,
  numClasses: 1000,
  keyDim: [16, 16, 16],
  windowSize: [7, 7, 7],
} as const;

/** build.py's EfficientViT_m0 … m5 (timm `efficientvit_msra` uses the same numbers). */
export const EFFICIENTVIT_VARIANTS: Readonly<Record<Variant, EfficientVitConfig>> = Object.freeze({
  m0: { ...COMMON, embedDim: [64, 128, 192], depth: [1, 2, 3], numHeads: [4, 4, 4], kernels: [5, 5, 5, 5] },
  m1: { ...COMMON, embedDim: [128, 144, 192], depth: [1, 2, 3], numHeads: [2, 3, 3], kernels: [7, 5, 3, 3] },
  m2: { ...COMMON, embedDim: [128, 192, 224], depth: [1, 2, 3], numHeads: [4, 3, 2], kernels: [7, 5, 3, 3] },
  m3: { ...COMMON, embedDim: [128, 240, 320], depth: [1, 2, 3], numHeads: [4, 3, 4], kernels: [5, 5, 5, 5] },
  m4: { ...COMMON, embedDim: [128, 256, 384], depth: [1, 2, 3], numHeads: [4, 4, 4], kernels: [7, 5, 3, 3] },
  m5: { ...COMMON, embedDim: [192, 288, 384], depth: [1, 3, 4], numHeads: [3, 3, 4], kernels: [7, 5, 3, 3] },
});

export function isVariant(name: string): name is Variant {
  return (VARIANTS as readonly string[]).includes(name);
}

/** torch.nn.BatchNorm1d/2d default, used everywhere in the model. */
export const BATCH_NORM_EPS = 1e-5;

/** Conv2d(bias=False) + BatchNorm2d, keys `<prefix>.c.weight`, `<prefix>.bn.*`. */
export interface ConvBnSpec {
  prefix: string;
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
  padding: number;
  groups: number;
}

/** Residual(Conv2d_BN 3×3 depthwise): x + dw(x). */
export interface ResidualDepthwiseLayer {
  kind: 'residual-dw';
  /** State-dict prefix of the module, e.g. `blocks1.0.dw0.m`. */
  prefix: string;
  conv: ConvBnSpec;
  channels: number;
  resolution: number;
}

/** Residual(FFN): x + pw2(relu(pw1(x))). */
export interface ResidualFfnLayer {
  kind: 'residual-ffn';
  prefix: string;
  pw1: ConvBnSpec;
  pw2: ConvBnSpec;
  channels: number;
  resolution: number;
}

/** Residual(LocalWindowAttention(CascadedGroupAttention)). */
export interface ResidualAttentionLayer {
  kind: 'residual-attention';
  /** `<block>.mixer.m.attn` */
  prefix: string;
  channels: number;
  /** Feature-map side (14, 7, 4 at 224 input). */
  resolution: number;
  /** LocalWindowAttention.window_resolution (7); windows are used only when resolution exceeds it. */
  windowResolution: number;
  /** min(window, resolution): the side of the square the attention (and its bias table) covers. */
  attentionResolution: number;
  heads: number;
  keyDim: number;
  /** d = int(attn_ratio · key_dim), the per-head value width; equals channels / heads. */
  valueDim: number;
  /** key_dim ** -0.5 */
  scale: number;
  qkvs: ConvBnSpec[];
  /** Depthwise conv on q, kernel `kernels[i]` for head i. */
  dws: ConvBnSpec[];
  /** proj = Sequential(ReLU, Conv2d_BN): keys `<prefix>.proj.1.*`. */
  proj: ConvBnSpec;
  /** Number of distinct (|Δrow|, |Δcol|) offsets = attentionResolution². */
  biasOffsets: number;
}

/** PatchMerging: conv3(se(relu(conv2(relu(conv1(x)))))), not residual. */
export interface PatchMergingLayer {
  kind: 'patch-merging';
  prefix: string;
  conv1: ConvBnSpec;
  conv2: ConvBnSpec;
  /** timm SqueezeExcite: x · sigmoid(fc2(relu(fc1(mean_hw(x))))), fc1/fc2 are 1×1 convs with bias. */
  se: { prefix: string; channels: number; reducedChannels: number };
  conv3: ConvBnSpec;
  inResolution: number;
  outResolution: number;
}

export type Layer = ResidualDepthwiseLayer | ResidualFfnLayer | ResidualAttentionLayer | PatchMergingLayer;

export interface EfficientVitLayout {
  variant: Variant;
  config: EfficientVitConfig;
  /** 4× Conv2d_BN 3×3 stride 2 with ReLU after the first three (keys patch_embed.{0,2,4,6}). */
  patchEmbed: ConvBnSpec[];
  /** blocks1, blocks2, blocks3 flattened in forward order. */
  layers: Layer[];
  /** Global average pool, then BN_Linear: BatchNorm1d (`head.bn.*`) + Linear (`head.l.*`). */
  head: { prefix: string; inFeatures: number; numClasses: number };
}

function convBn(
  prefix: string,
  inChannels: number,
  outChannels: number,
  kernel = 1,
  stride = 1,
  groups = 1,
): ConvBnSpec {
  return { prefix, inChannels, outChannels, kernel, stride, padding: Math.floor(kernel / 2), groups };
}

/** timm make_divisible(v, 8, round_limit=0) as SqueezeExcite(rd_ratio=0.25) uses it. */
function makeDivisible(value: number, divisor = 8): number {
  return Math.max(divisor, Math.floor((value + divisor / 2) / divisor) * divisor);
}

function residualDw(prefix: string, channels: number, resolution: number): ResidualDepthwiseLayer {
  return {
    kind: 'residual-dw',
    prefix,
    conv: convBn(prefix, channels, channels, 3, 1, channels),
    channels,
    resolution,
  };
}

function residualFfn(prefix: string, channels: number, resolution: number): ResidualFfnLayer {
  const hidden = channels * 2;
  return {
    kind: 'residual-ffn',
    prefix,
    pw1: convBn(`${prefix}.pw1`, channels, hidden),
    pw2: convBn(`${prefix}.pw2`, hidden, channels),
    channels,
    resolution,
  };
}

function residualAttention(
  prefix: string,
  channels: number,
  keyDim: number,
  heads: number,
  resolution: number,
  windowResolution: number,
  kernels: readonly number[],
): ResidualAttentionLayer {
  // The official code computes attn_ratio = ed / (kd · nh) in floating point and d = int(attn_ratio · kd).
  const valueDim = Math.trunc((channels / (keyDim * heads)) * keyDim);
  if (channels % heads !== 0 || valueDim !== channels / heads) {
    throw new Error(`${prefix}: ${channels} channels do not split into ${heads} heads of value width ${valueDim}`);
  }
  const attentionResolution = Math.min(windowResolution, resolution);
  const qkvs: ConvBnSpec[] = [];
  const dws: ConvBnSpec[] = [];
  for (let i = 0; i < heads; i++) {
    qkvs.push(convBn(`${prefix}.qkvs.${i}`, channels / heads, keyDim * 2 + valueDim));
    dws.push(convBn(`${prefix}.dws.${i}`, keyDim, keyDim, kernels[i], 1, keyDim));
  }
  return {
    kind: 'residual-attention',
    prefix,
    channels,
    resolution,
    windowResolution,
    attentionResolution,
    heads,
    keyDim,
    valueDim,
    scale: keyDim ** -0.5,
    qkvs,
    dws,
    proj: convBn(`${prefix}.proj.1`, valueDim * heads, channels),
    biasOffsets: attentionResolution * attentionResolution,
  };
}

function patchMerging(prefix: string, dim: number, outDim: number, inResolution: number): PatchMergingLayer {
  const hidden = dim * 4;
  return {
    kind: 'patch-merging',
    prefix,
    conv1: convBn(`${prefix}.conv1`, dim, hidden),
    conv2: convBn(`${prefix}.conv2`, hidden, hidden, 3, 2, hidden),
    se: { prefix: `${prefix}.se`, channels: hidden, reducedChannels: makeDivisible(hidden * 0.25) },
    conv3: convBn(`${prefix}.conv3`, hidden, outDim),
    inResolution,
    outResolution: Math.floor((inResolution - 1) / 2) + 1,
  };
}

const layoutCache = new Map<Variant, EfficientVitLayout>();

/** The eval-mode computation of one variant, in forward order (mirrors EfficientViT.__init__). */
export function efficientVitLayout(variant: Variant): EfficientVitLayout {
  const cached = layoutCache.get(variant);
  if (cached) return cached;
  const config = EFFICIENTVIT_VARIANTS[variant];
  if (!config) throw new Error(`unknown EfficientViT variant '${variant}'`);
  const e0 = config.embedDim[0];
  const patchEmbed = [
    convBn('patch_embed.0', config.inChannels, e0 / 8, 3, 2),
    convBn('patch_embed.2', e0 / 8, e0 / 4, 3, 2),
    convBn('patch_embed.4', e0 / 4, e0 / 2, 3, 2),
    convBn('patch_embed.6', e0 / 2, e0, 3, 2),
  ];
  const layers: Layer[] = [];
  let resolution = config.imageSize / config.patchSize;
  const stageLength = [0, 0, 0];
  for (let stage = 0; stage < 3; stage++) {
    const ed = config.embedDim[stage];
    const blocks = `blocks${stage + 1}`;
    for (let d = 0; d < config.depth[stage]; d++) {
      const block = `${blocks}.${stageLength[stage]++}`;
      layers.push(residualDw(`${block}.dw0.m`, ed, resolution));
      layers.push(residualFfn(`${block}.ffn0.m`, ed, resolution));
      layers.push(
        residualAttention(
          `${block}.mixer.m.attn`,
          ed,
          config.keyDim[stage],
          config.numHeads[stage],
          resolution,
          config.windowSize[stage],
          config.kernels,
        ),
      );
      layers.push(residualDw(`${block}.dw1.m`, ed, resolution));
      layers.push(residualFfn(`${block}.ffn1.m`, ed, resolution));
    }
    if (stage < 2) {
      // down_ops ['subsample', 2]: appended to the *next* stage's Sequential, before its blocks.
      const next = `blocks${stage + 2}`;
      const nextEd = config.embedDim[stage + 1];
      const pre = `${next}.${stageLength[stage + 1]++}`;
      layers.push(residualDw(`${pre}.0.m`, ed, resolution));
      layers.push(residualFfn(`${pre}.1.m`, ed, resolution));
      const merging = patchMerging(`${next}.${stageLength[stage + 1]++}`, ed, nextEd, resolution);
      layers.push(merging);
      resolution = merging.outResolution;
      const post = `${next}.${stageLength[stage + 1]++}`;
      layers.push(residualDw(`${post}.0.m`, nextEd, resolution));
      layers.push(residualFfn(`${post}.1.m`, nextEd, resolution));
    }
  }
  const layout: EfficientVitLayout = {
    variant,
    config,
    patchEmbed,
    layers,
    head: { prefix: 'head', inFeatures: config.embedDim[2], numClasses: config.numClasses },
  };
  layoutCache.set(variant, layout);
  return layout;
}

/**
 * CascadedGroupAttention's bias gather table, recomputed as the official code does: points in row-major order,
 * offsets (|Δrow|, |Δcol|) numbered in order of first appearance. Returns the N×N index matrix, row-major.
 */
export function attentionBiasIndices(resolution: number): Int32Array {
  const points: [number, number][] = [];
  for (let r = 0; r < resolution; r++) for (let c = 0; c < resolution; c++) points.push([r, c]);
  const n = points.length;
  const offsets = new Map<number, number>();
  const idxs = new Int32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const key = Math.abs(points[i][0] - points[j][0]) * resolution + Math.abs(points[i][1] - points[j][1]);
      let index = offsets.get(key);
      if (index === undefined) {
        index = offsets.size;
        offsets.set(key, index);
      }
      idxs[i * n + j] = index;
    }
  }
  return idxs;
}

export type ParameterRole = 'parameter' | 'buffer';

export interface ParameterSpec {
  name: string;
  shape: number[];
  /** 'buffer': not needed for inference (num_batches_tracked, attention_bias_idxs); optional in a checkpoint. */
  role: ParameterRole;
}

function convBnParameters(spec: ConvBnSpec): ParameterSpec[] {
  const c = spec.outChannels;
  return [
    {
      name: `${spec.prefix}.c.weight`,
      shape: [c, spec.inChannels / spec.groups, spec.kernel, spec.kernel],
      role: 'parameter',
    },
    ...batchNormParameters(`${spec.prefix}.bn`, c),
  ];
}

function batchNormParameters(prefix: string, channels: number): ParameterSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [channels], role: 'parameter' },
    { name: `${prefix}.bias`, shape: [channels], role: 'parameter' },
    { name: `${prefix}.running_mean`, shape: [channels], role: 'parameter' },
    { name: `${prefix}.running_var`, shape: [channels], role: 'parameter' },
    { name: `${prefix}.num_batches_tracked`, shape: [], role: 'buffer' },
  ];
}

function layerParameters(layer: Layer): ParameterSpec[] {
  switch (layer.kind) {
    case 'residual-dw':
      return convBnParameters(layer.conv);
    case 'residual-ffn':
      return [...convBnParameters(layer.pw1), ...convBnParameters(layer.pw2)];
    case 'residual-attention': {
      const n = layer.attentionResolution * layer.attentionResolution;
      return [
        { name: `${layer.prefix}.attention_biases`, shape: [layer.heads, layer.biasOffsets], role: 'parameter' },
        { name: `${layer.prefix}.attention_bias_idxs`, shape: [n, n], role: 'buffer' },
        ...layer.qkvs.flatMap(convBnParameters),
        ...layer.dws.flatMap(convBnParameters),
        ...convBnParameters(layer.proj),
      ];
    }
    case 'patch-merging': {
      const { se } = layer;
      return [
        ...convBnParameters(layer.conv1),
        ...convBnParameters(layer.conv2),
        { name: `${se.prefix}.fc1.weight`, shape: [se.reducedChannels, se.channels, 1, 1], role: 'parameter' },
        { name: `${se.prefix}.fc1.bias`, shape: [se.reducedChannels], role: 'parameter' },
        { name: `${se.prefix}.fc2.weight`, shape: [se.channels, se.reducedChannels, 1, 1], role: 'parameter' },
        { name: `${se.prefix}.fc2.bias`, shape: [se.channels], role: 'parameter' },
        ...convBnParameters(layer.conv3),
      ];
    }
  }
}

/** Every tensor of the official model's state_dict, in module order, with its shape. */
export function expectedParameters(variant: Variant): ParameterSpec[] {
  const layout = efficientVitLayout(variant);
  const { head } = layout;
  return [
    ...layout.patchEmbed.flatMap(convBnParameters),
    ...layout.layers.flatMap(layerParameters),
    ...batchNormParameters(`${head.prefix}.bn`, head.inFeatures),
    { name: `${head.prefix}.l.weight`, shape: [head.numClasses, head.inFeatures], role: 'parameter' },
    { name: `${head.prefix}.l.bias`, shape: [head.numClasses], role: 'parameter' },
  ];
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);
const elementCount = (shape: readonly number[]) => shape.reduce((n, d) => n * d, 1);
const isFloat = (t: Tensor) => t.data instanceof Float32Array || t.data instanceof Float64Array;
const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/**
 * Checks a state dict (official key naming) against a variant and returns a normalized copy: 2-D `[out, in]`
 * 1×1 conv weights become `[out, in, 1, 1]` (as the official loader unsqueezes them). Throws CheckpointError
 * `missing-tensor`, `shape-mismatch` (naming the first offending tensor in module order), `dtype-mismatch`,
 * `unexpected-tensor` (the official loader loads strictly) or `bad-attention-bias-idxs`.
 */
export function validateStateDict(stateDict: StateDict, variant: Variant): StateDict {
  const expected = expectedParameters(variant);
  const out: StateDict = new Map();
  for (const spec of expected) {
    const tensor = stateDict.get(spec.name);
    if (!tensor) {
      if (spec.role === 'buffer') continue;
      throw new CheckpointError(
        'missing-tensor',
        `${variant}: checkpoint has no tensor '${spec.name}' (expected shape ${fmt(spec.shape)})`,
      );
    }
    if (spec.name.endsWith('num_batches_tracked')) {
      // A scalar; some writers store it as [1]. Unused at inference.
      out.set(spec.name, tensor);
      continue;
    }
    let shape = tensor.shape;
    const is1x1 = spec.shape.length === 4 && spec.shape[2] === 1 && spec.shape[3] === 1;
    if (is1x1 && shape.length === 2 && shape[0] === spec.shape[0] && shape[1] === spec.shape[1])
      shape = [...shape, 1, 1];
    if (!sameShape(shape, spec.shape) || tensor.data.length !== elementCount(spec.shape)) {
      throw new CheckpointError(
        'shape-mismatch',
        `${variant}: tensor '${spec.name}' has shape ${fmt(tensor.shape)}, expected ${fmt(spec.shape)} — is this a checkpoint of another variant?`,
      );
    }
    if (spec.role === 'parameter' && !isFloat(tensor)) {
      throw new CheckpointError(
        'dtype-mismatch',
        `${variant}: tensor '${spec.name}' has dtype ${tensor.dtype}, expected a float type`,
      );
    }
    if (spec.name.endsWith('attention_bias_idxs')) checkBiasIndices(spec.name, tensor);
    out.set(spec.name, shape === tensor.shape ? tensor : { ...tensor, shape });
  }
  const known = new Set(expected.map((s) => s.name));
  for (const name of stateDict.keys()) {
    if (!known.has(name))
      throw new CheckpointError(
        'unexpected-tensor',
        `${variant}: checkpoint has tensor '${name}' that the model does not have`,
      );
  }
  return out;
}

/** The exporters recompute the table; a checkpoint whose stored table differs was built by other code. */
function checkBiasIndices(name: string, tensor: Tensor) {
  const side = Math.round(Math.sqrt(tensor.shape[0]));
  const want = attentionBiasIndices(side);
  const got = tensor.data;
  for (let i = 0; i < want.length; i++) {
    if (Number(got[i]) !== want[i]) {
      throw new CheckpointError(
        'bad-attention-bias-idxs',
        `tensor '${name}' differs from the official offset table at element ${i}`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Checkpoints: where the official weights are published and how their files and parameters are named.

const RELEASE = 'https://github.com/xinyuliu-jeffrey/EfficientViT_Model_Zoo/releases/download/v1.0';

/** Official model-zoo release assets (MIT), as timm's efficientvit_msra default_cfgs also list them. */
export const OFFICIAL_CHECKPOINT_URLS: Readonly<Record<Variant, string>> = Object.freeze({
  m0: `${RELEASE}/efficientvit_m0.pth`,
  m1: `${RELEASE}/efficientvit_m1.pth`,
  m2: `${RELEASE}/efficientvit_m2.pth`,
  m3: `${RELEASE}/efficientvit_m3.pth`,
  m4: `${RELEASE}/efficientvit_m4.pth`,
  m5: `${RELEASE}/efficientvit_m5.pth`,
});

/**
 * Local checkpoint file names for a variant, most preferred first: `efficientvit_mN.pth`, then
 * `efficientvit_mN.<anything>.pth`, then `efficientvit_mN<sep><anything>.safetensors` (e.g. a timm download).
 * `efficientvit_m1` must not pick up `efficientvit_m10…`: the stem is followed by a separator or the extension.
 */
export function checkpointFileRules(variant: Variant): readonly ((name: string) => boolean)[] {
  const stem = `efficientvit_${variant}`;
  return [
    (name) => name === `${stem}.pth`,
    (name) => name.startsWith(`${stem}.`) && name.endsWith('.pth'),
    (name) => name.startsWith(stem) && /^[._-]/.test(name.slice(stem.length)) && name.endsWith('.safetensors'),
  ];
}

/**
 * timm `efficientvit_msra` parameter names → official microsoft/Cream names, as a table of patterns: the inverse
 * of timm's checkpoint_filter_fn.
 *
 * timm splits the official `blocksN` lists into `stages.{N-1}.downsample` (res1, patchmerge, res2 — official
 * indices 0..2, only stages 1 and 2 of every M0–M5 variant downsample) and `stages.{N-1}.blocks` (official indices
 * from 3 on in downsampling stages, from 0 in stage 0); names the stem convs conv1..4 (official Sequential indices
 * 0, 2, 4, 6 — ReLUs in between); calls the BN-linear `linear` (official `l`) and each conv `conv` (official `c`).
 */
type Rule = readonly [pattern: RegExp, official: (...groups: string[]) => string];

/** Module path prefix; the first matching rule applies. Every timm name must match one. */
const PREFIX_RULES: readonly Rule[] = [
  [/^patch_embed\.conv([1-4])\./, (n) => `patch_embed.${(Number(n) - 1) * 2}.`],
  [/^stages\.0\.blocks\.(\d+)\./, (block) => `blocks1.${block}.`],
  [/^stages\.(\d+)\.downsample\.res1\./, (stage) => `blocks${Number(stage) + 1}.0.`],
  [/^stages\.(\d+)\.downsample\.patchmerge\./, (stage) => `blocks${Number(stage) + 1}.1.`],
  [/^stages\.(\d+)\.downsample\.res2\./, (stage) => `blocks${Number(stage) + 1}.2.`],
  [/^stages\.(\d+)\.blocks\.(\d+)\./, (stage, block) => `blocks${Number(stage) + 1}.${Number(block) + 3}.`],
  [/^head\.linear\./, () => 'head.l.'],
  [/^head\.bn\./, () => 'head.bn.'],
];

/** Leaf renames, applied after the prefix. */
const LEAF_RULES: readonly Rule[] = [[/\.conv\.(weight|bias)$/, (param) => `.c.${param}`]];

export function officialNameFromTimm(name: string): string {
  const prefix = PREFIX_RULES.find(([pattern]) => pattern.test(name));
  if (!prefix) throw new CheckpointError('unknown-key', `${name} is not an efficientvit_msra parameter name`);
  let official = name.replace(prefix[0], (_, ...groups: string[]) => prefix[1](...groups));
  for (const [pattern, rename] of LEAF_RULES)
    official = official.replace(pattern, (_, ...groups: string[]) => rename(...groups));
  return official;
}

/** timm files name stages `stages.N`; official ones `blocksN`. */
export function usesTimmNames(stateDict: StateDict): boolean {
  return [...stateDict.keys()].some((name) => name.startsWith('stages.'));
}

export function toOfficialNames(stateDict: StateDict): StateDict {
  const out: StateDict = new Map();
  for (const [name, tensor] of stateDict) {
    const official = officialNameFromTimm(name);
    if (out.has(official)) throw new CheckpointError('unknown-key', `${name} maps onto ${official} twice`);
    out.set(official, tensor);
  }
  return out;
}
