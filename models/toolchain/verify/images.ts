/** A preprocessed image batch as the models take it: float32 NCHW. */
export interface ImageBatch {
  data: Float32Array;
  dims: number[];
}

/**
 * A bare Float32Array is one square RGB image (3·S·S values, e.g. 3·224·224); anything else is passed with its
 * dims.
 */
export type ImageInput = Float32Array | ImageBatch;

export function asBatch(image: ImageInput): ImageBatch {
  if (!(image instanceof Float32Array)) {
    const count = image.dims.reduce((n, d) => n * d, 1);
    if (count !== image.data.length)
      throw new Error(`image batch has ${image.data.length} values for dims [${image.dims.join(', ')}]`);
    return image;
  }
  const side = Math.round(Math.sqrt(image.length / 3));
  if (3 * side * side !== image.length)
    throw new Error(`a bare Float32Array of ${image.length} values is not one square RGB image`);
  return { data: image, dims: [1, 3, side, side] };
}
