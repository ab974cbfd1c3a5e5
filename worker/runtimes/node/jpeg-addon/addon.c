/*
 * Node-API add-on for the Node build: JPEG decoding with the system's libjpeg-turbo (SIMD), and the PIL-exact bicubic
 * resize + normalisation of worker/core/preprocess/resize.ts, both bit-identical to the wasm path.
 *
 * decode() mirrors wasm/jpeg/decoder.c call for call (libjpeg's defaults as PIL uses them: JDCT_ISLOW, fancy
 * upsampling; out_color_space RGB, GRAYSCALE or CMYK; DCT scaling 1/N; truncation rejected; at most 100 scans), so the
 * TypeScript above it turns the result into RGB exactly as it does the wasm decoder's. Failures throw an Error whose
 * `kind` is 1 corrupt, 2 unsupported, 3 too large (decoder.c's jd_fail kinds) and `libjpegCode` its message code.
 *
 * preprocess() is resize.ts's resizeBicubicPlanes: Pillow's Resample.c 8bpc passes (double coefficients normalised
 * and rounded to 22-bit fixed point, int32 sums, horizontal pass then vertical, a pass skipped when its size is kept),
 * only the centre-crop region computed, each 8-bit result looked up in per-channel float32 tables. Built with
 * -ffp-contract=off so that the coefficients' double arithmetic is the same as JavaScript's.
 */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>
#include <node_api.h>

enum { KIND_CORRUPT = 1, KIND_UNSUPPORTED = 2, KIND_TOO_LARGE = 3 };
#define MAX_SCANS 100

typedef struct {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
  int kind;
  int code;
  char message[JMSG_LENGTH_MAX + 64];
} error_state;

/* decoder.c's failure_kind. */
static int failure_kind(int code) {
  switch (code) {
    case JERR_NO_SOI:
    case JERR_INPUT_EMPTY:
    case JERR_BAD_PRECISION:
    case JERR_SOF_UNSUPPORTED:
    case JERR_NOTIMPL:
    case JERR_NOT_COMPILED:
    case JERR_CONVERSION_NOTIMPL:
      return KIND_UNSUPPORTED;
    case JERR_OUT_OF_MEMORY:
    case JERR_NO_BACKING_STORE:
    case JERR_IMAGE_TOO_BIG:
    case JERR_WIDTH_OVERFLOW:
      return KIND_TOO_LARGE;
    default:
      return KIND_CORRUPT;
  }
}

static void fail(j_common_ptr common, int kind) {
  error_state *state = (error_state *)common->err;
  state->kind = kind;
  state->code = common->err->msg_code;
  common->err->format_message(common, state->message);
  longjmp(state->jump, 1);
}

static void on_error_exit(j_common_ptr common) { fail(common, failure_kind(common->err->msg_code)); }

/* As decoder.c: the end-of-data warning (a truncated file) is an error, as in PIL; other warnings are counted. */
static void on_emit_message(j_common_ptr common, int level) {
  if (level < 0) {
    if (common->err->msg_code == JWRN_JPEG_EOF) fail(common, KIND_CORRUPT);
    common->err->num_warnings++;
  }
}

static void on_output_message(j_common_ptr common) { (void)common; }

static void fail_plain(j_common_ptr common, int kind, const char *message) {
  error_state *state = (error_state *)common->err;
  state->kind = kind;
  state->code = 0;
  snprintf(state->message, sizeof state->message, "%s", message);
  longjmp(state->jump, 1);
}

static void on_progress(j_common_ptr common) {
  j_decompress_ptr d = (j_decompress_ptr)common;
  if (common->is_decompressor && d->input_scan_number > MAX_SCANS)
    fail_plain(common, KIND_TOO_LARGE, "JPEG has too many scans");
}

#define CHECK(call)                                                                                                   \
  do {                                                                                                                \
    if ((call) != napi_ok) {                                                                                          \
      napi_throw_error(env, NULL, "jpeg add-on: Node-API call failed: " #call);                                     \
      return NULL;                                                                                                    \
    }                                                                                                                 \
  } while (0)

static napi_value throw_decode_error(napi_env env, const error_state *state) {
  napi_value message, error, kind, code;
  napi_create_string_utf8(env, state->message, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, NULL, message, &error);
  napi_create_int32(env, state->kind, &kind);
  napi_create_int32(env, state->code, &code);
  napi_set_named_property(env, error, "kind", kind);
  napi_set_named_property(env, error, "libjpegCode", code);
  napi_throw(env, error);
  return NULL;
}

static void set_int(napi_env env, napi_value object, const char *name, int64_t value) {
  napi_value v;
  napi_create_int64(env, value, &v);
  napi_set_named_property(env, object, name, v);
}

static void free_buffer(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/*
 * decode(bytes: Uint8Array, scaleDenom: 1|2|4|8, maxOutputPixels: number, maxMemoryBytes: number)
 *   → { width, height, channels, colorSpace: 1 gray | 2 rgb | 4 cmyk, adobe: 0|1, warnings, data: ArrayBuffer }
 */
static napi_value decode(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "decode(bytes, scaleDenom, maxOutputPixels, maxMemoryBytes)");
    return NULL;
  }
  napi_typedarray_type type;
  size_t length;
  void *bytes;
  CHECK(napi_get_typedarray_info(env, argv[0], &type, &length, &bytes, NULL, NULL));
  uint32_t scale_denom;
  double max_output_pixels, max_memory;
  CHECK(napi_get_value_uint32(env, argv[1], &scale_denom));
  CHECK(napi_get_value_double(env, argv[2], &max_output_pixels));
  CHECK(napi_get_value_double(env, argv[3], &max_memory));
  if (type != napi_uint8_array ||
      (scale_denom != 1 && scale_denom != 2 && scale_denom != 4 && scale_denom != 8)) {
    napi_throw_range_error(env, NULL, "decode needs a Uint8Array and a scale of 1, 2, 4 or 8");
    return NULL;
  }

  struct jpeg_decompress_struct cinfo;
  struct jpeg_progress_mgr progress;
  error_state err;
  /* volatile: read after a longjmp. */
  unsigned char *volatile pixels = NULL;
  memset(&err, 0, sizeof err);
  jpeg_std_error(&err.mgr);
  err.mgr.error_exit = on_error_exit;
  err.mgr.emit_message = on_emit_message;
  err.mgr.output_message = on_output_message;
  cinfo.err = &err.mgr;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    free(pixels);
    return throw_decode_error(env, &err);
  }
  jpeg_create_decompress(&cinfo);
  /* The wasm decoder's memory cap covers the file's copy and libjpeg's pools; here only the pools are counted. */
  cinfo.mem->max_memory_to_use = max_memory > (double)LONG_MAX ? LONG_MAX : (long)max_memory;
  progress.progress_monitor = on_progress;
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, (const unsigned char *)bytes, (unsigned long)length);
  jpeg_read_header(&cinfo, TRUE);

  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_YCbCr:
    case JCS_RGB: cinfo.out_color_space = JCS_RGB; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; break;
    default:
      fail_plain((j_common_ptr)&cinfo, KIND_UNSUPPORTED, "JPEG color space is not gray, RGB or CMYK");
  }
  cinfo.scale_num = 1;
  cinfo.scale_denom = scale_denom;
  jpeg_calc_output_dimensions(&cinfo);
  if ((double)cinfo.output_width * cinfo.output_height > max_output_pixels)
    fail_plain((j_common_ptr)&cinfo, KIND_TOO_LARGE, "decoded image exceeds the output pixel limit");

  jpeg_start_decompress(&cinfo);
  size_t stride = (size_t)cinfo.output_width * cinfo.output_components;
  size_t total = stride * cinfo.output_height;
  pixels = malloc(total ? total : 1);
  if (!pixels) fail_plain((j_common_ptr)&cinfo, KIND_TOO_LARGE, "not enough memory for the decoded image");
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW rows[16];
    JDIMENSION n = cinfo.output_height - cinfo.output_scanline;
    if (n > 16) n = 16;
    for (JDIMENSION i = 0; i < n; i++) rows[i] = pixels + (size_t)(cinfo.output_scanline + i) * stride;
    if (jpeg_read_scanlines(&cinfo, rows, n) == 0)
      fail_plain((j_common_ptr)&cinfo, KIND_CORRUPT, "libjpeg returned no rows");
  }
  /* The data stops being read here, as in decoder.c (no jpeg_finish_decompress: trailing garbage is PIL's too). */
  int width = (int)cinfo.output_width, height = (int)cinfo.output_height;
  int channels = cinfo.output_components, color = cinfo.out_color_space;
  int adobe = cinfo.saw_Adobe_marker ? 1 : 0;
  long warnings = err.mgr.num_warnings;
  jpeg_destroy_decompress(&cinfo);

  napi_value result, data;
  unsigned char *owned = pixels;
  pixels = NULL;
  if (napi_create_external_arraybuffer(env, owned, total, free_buffer, NULL, &data) != napi_ok) {
    /* Runtimes that forbid external buffers: copy. */
    void *copy;
    if (napi_create_arraybuffer(env, total, &copy, &data) != napi_ok) {
      free(owned);
      napi_throw_error(env, NULL, "jpeg add-on: cannot allocate the output");
      return NULL;
    }
    memcpy(copy, owned, total);
    free(owned);
  }
  CHECK(napi_create_object(env, &result));
  set_int(env, result, "width", width);
  set_int(env, result, "height", height);
  set_int(env, result, "channels", channels);
  set_int(env, result, "colorSpace", color);
  set_int(env, result, "adobe", adobe);
  set_int(env, result, "warnings", warnings);
  napi_set_named_property(env, result, "data", data);
  return result;
}

/* ---- preprocessing: resize.ts, operation for operation ------------------------------------------------------- */

#define PRECISION_BITS 22
#define HALF (1 << (PRECISION_BITS - 1))
#define ONE (1 << PRECISION_BITS)

static double bicubic(double x) {
  const double a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

typedef struct {
  int32_t *first;
  int32_t *count;
  int32_t *weights;
  int size;
} coefficients;

static int make_coefficients(coefficients *c, int in_size, int out_size, int start, int length) {
  double scale = (double)in_size / out_size;
  double filter_scale = scale > 1 ? scale : 1;
  double support = 2 * filter_scale;
  int size = (int)ceil(support) * 2 + 1;
  c->size = size;
  c->first = malloc(sizeof(int32_t) * length);
  c->count = malloc(sizeof(int32_t) * length);
  c->weights = calloc((size_t)length * size, sizeof(int32_t));
  double *k = malloc(sizeof(double) * size);
  if (!c->first || !c->count || !c->weights || !k) {
    free(k);
    return 0;
  }
  for (int i = 0; i < length; i++) {
    double center = (start + i + 0.5) * scale;
    double ss = 1 / filter_scale;
    double lo = trunc(center - support + 0.5), hi = trunc(center + support + 0.5);
    int xmin = lo > 0 ? (int)lo : 0;
    int xmax = (hi < in_size ? (int)hi : in_size) - xmin;
    double sum = 0;
    for (int x = 0; x < xmax; x++) {
      double w = bicubic((x + xmin - center + 0.5) * ss);
      k[x] = w;
      sum += w;
    }
    for (int x = 0; x < xmax; x++) {
      double w = sum != 0 ? k[x] / sum : k[x];
      c->weights[i * size + x] = (int32_t)(w < 0 ? trunc(-0.5 + w * ONE) : trunc(0.5 + w * ONE));
    }
    c->first[i] = xmin;
    c->count[i] = xmax > 0 ? xmax : 0;
  }
  free(k);
  return 1;
}

static void free_coefficients(coefficients *c) {
  free(c->first);
  free(c->count);
  free(c->weights);
}

static inline uint8_t clip8(int32_t v) {
  v >>= PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

typedef struct {
  const uint8_t *src;
  int src_width, src_height;
  int out_width, out_height;
  int x, y, crop_w, crop_h;
  const float *tables[3];
  float *out;
} job;

static const char *run_preprocess(const job *j) {
  const int rgb_stride = j->src_width * 3;
  int need_h = j->out_width != j->src_width, need_v = j->out_height != j->src_height;
  coefficients v = {0}, h = {0};
  const char *failure = NULL;
  uint8_t *rows = NULL;
  if (need_v && !make_coefficients(&v, j->src_height, j->out_height, j->y, j->crop_h)) {
    failure = "out of memory";
    goto done;
  }
  int first_row = need_v ? v.first[0] : j->y;
  int last_row = need_v ? v.first[j->crop_h - 1] + v.count[j->crop_h - 1] : j->y + j->crop_h;
  const uint8_t *data;
  long stride, offset;
  if (need_h) {
    if (!make_coefficients(&h, j->src_width, j->out_width, j->x, j->crop_w)) {
      failure = "out of memory";
      goto done;
    }
    stride = (long)j->crop_w * 3;
    rows = malloc((size_t)(last_row - first_row) * stride + 1);
    if (!rows) {
      failure = "out of memory";
      goto done;
    }
    for (int yy = first_row; yy < last_row; yy++) {
      const uint8_t *line = j->src + (size_t)yy * rgb_stride;
      uint8_t *o = rows + (size_t)(yy - first_row) * stride;
      for (int i = 0; i < j->crop_w; i++, o += 3) {
        const int32_t *w = h.weights + (size_t)i * h.size;
        const uint8_t *p = line + (size_t)h.first[i] * 3;
        int32_t r = HALF, g = HALF, b = HALF;
        for (int n = 0; n < h.count[i]; n++, p += 3) {
          r += p[0] * w[n];
          g += p[1] * w[n];
          b += p[2] * w[n];
        }
        o[0] = clip8(r);
        o[1] = clip8(g);
        o[2] = clip8(b);
      }
    }
    data = rows;
    offset = -(long)first_row * stride;
  } else {
    data = j->src;
    stride = rgb_stride;
    offset = (long)j->x * 3;
  }
  const int plane = j->crop_w * j->crop_h;
  float *red = j->out, *green = j->out + plane, *blue = j->out + 2 * plane;
  const float *tr = j->tables[0], *tg = j->tables[1], *tb = j->tables[2];
  int o = 0;
  if (!need_v) {
    for (int row = 0; row < j->crop_h; row++) {
      const uint8_t *p = data + (long)(j->y + row) * stride + offset;
      for (int x = 0; x < j->crop_w; x++, p += 3, o++) {
        red[o] = tr[p[0]];
        green[o] = tg[p[1]];
        blue[o] = tb[p[2]];
      }
    }
    goto done;
  }
  int32_t *acc = malloc(sizeof(int32_t) * 3 * j->crop_w);
  if (!acc) {
    failure = "out of memory";
    goto done;
  }
  for (int i = 0; i < j->crop_h; i++) {
    const int32_t *w = v.weights + (size_t)i * v.size;
    const uint8_t *top = data + (long)v.first[i] * stride + offset;
    const int n3 = 3 * j->crop_w;
    for (int x = 0; x < n3; x++) acc[x] = HALF;
    /* Row by row over the window: the same sums, in the same order per sample, as resize.ts's column sweep. */
    for (int n = 0; n < v.count[i]; n++) {
      const uint8_t *p = top + (long)n * stride;
      const int32_t wn = w[n];
      for (int x = 0; x < n3; x++) acc[x] += p[x] * wn;
    }
    for (int x = 0; x < j->crop_w; x++, o++) {
      red[o] = tr[clip8(acc[3 * x])];
      green[o] = tg[clip8(acc[3 * x + 1])];
      blue[o] = tb[clip8(acc[3 * x + 2])];
    }
  }
  free(acc);
done:
  free(rows);
  free_coefficients(&v);
  free_coefficients(&h);
  return failure;
}

static int typed(napi_env env, napi_value value, napi_typedarray_type want, void **data, size_t *length) {
  napi_typedarray_type type;
  return napi_get_typedarray_info(env, value, &type, length, data, NULL, NULL) == napi_ok && type == want;
}

/*
 * preprocess(rgb: Uint8Array, width, height, outWidth, outHeight, x, y, cropWidth, cropHeight,
 *            red: Float32Array(256), green, blue, out: Float32Array, offset)
 * The caller (jpeg-addon/index.ts) has checked the region and the output's room, as transform.ts does.
 */
static napi_value preprocess(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t n[8];
  uint32_t offset;
  void *src, *tables[3], *out;
  size_t src_len, table_len[3], out_len;
  if (argc < 14 || !typed(env, argv[0], napi_uint8_array, &src, &src_len)) goto bad;
  for (int i = 0; i < 8; i++)
    if (napi_get_value_int32(env, argv[1 + i], &n[i]) != napi_ok) goto bad;
  for (int c = 0; c < 3; c++)
    if (!typed(env, argv[9 + c], napi_float32_array, &tables[c], &table_len[c]) || table_len[c] != 256) goto bad;
  if (!typed(env, argv[12], napi_float32_array, &out, &out_len)) goto bad;
  if (napi_get_value_uint32(env, argv[13], &offset) != napi_ok) goto bad;
  job j = {src, n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], {tables[0], tables[1], tables[2]}, NULL};
  if (j.src_width < 1 || j.src_height < 1 || (size_t)j.src_width * j.src_height * 3 > src_len || j.crop_w < 1 ||
      j.crop_h < 1 || j.x < 0 || j.y < 0 || j.x + j.crop_w > j.out_width || j.y + j.crop_h > j.out_height ||
      (size_t)offset + (size_t)3 * j.crop_w * j.crop_h > out_len)
    goto bad;
  j.out = (float *)out + offset;
  const char *failure = run_preprocess(&j);
  if (failure) napi_throw_error(env, NULL, failure);
  return NULL;
bad:
  napi_throw_range_error(env, NULL, "preprocess: bad arguments");
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"decode", NULL, decode, NULL, NULL, NULL, napi_default, NULL},
      {"preprocess", NULL, preprocess, NULL, NULL, NULL, napi_default, NULL},
  };
#ifdef LIBJPEG_TURBO_VERSION_NUMBER
  const int32_t turbo = LIBJPEG_TURBO_VERSION_NUMBER;
#else
  const int32_t turbo = 0; /* not libjpeg-turbo */
#endif
  napi_value version;
  napi_create_int32(env, turbo, &version);
  napi_define_properties(env, exports, 2, props);
  napi_set_named_property(env, exports, "libjpegTurboVersion", version);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
