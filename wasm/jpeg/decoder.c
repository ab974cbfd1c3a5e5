/*
 * WebAssembly glue around libjpeg-turbo's decompressor (built by build.sh).
 *
 * One module instance decodes one image: the JS wrapper instantiates a fresh
 * instance per call, so libjpeg state lives in globals here and is never
 * cleaned up. Errors call the imported jd_fail(), which throws in JS and
 * unwinds through these frames; the abandoned instance (and whatever libjpeg
 * had allocated in its memory) is then simply dropped.
 *
 * Decode settings are libjpeg's defaults, as PIL uses them: JDCT_ISLOW, fancy
 * upsampling, no block smoothing changes. Scaling is libjpeg's DCT-domain
 * scaling (scale_num = 1, scale_denom = 1/2/4/8).
 *
 * Rows are handed to JS a batch at a time (jd_read_rows), so the full-size
 * output never lives in wasm memory: wasm holds only libjpeg's working set.
 */
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "jpeglib.h"
#include "jerror.h"

/* Failure kinds passed to JS; index.ts maps them to error codes. */
enum {
  JD_CORRUPT = 1,     /* truncated or malformed JPEG data */
  JD_UNSUPPORTED = 2, /* not a JPEG, or a JPEG variant libjpeg cannot decode */
  JD_TOO_LARGE = 3,   /* needs more memory or output than the caller allows */
  JD_MISUSE = 4       /* wrapper called the exports out of order (a bug) */
};

/* Throws a JS Error; never returns. text is a NUL-terminated message, a
 * printf-style libjpeg template when params is non-null: params then points
 * at libjpeg's msg_parm union (int[8] or char[80]). JS formats it, which
 * keeps printf, and with it WASI's stdio imports, out of the module. */
__attribute__((import_module("env"), import_name("jd_fail"), noreturn))
void jd_fail(int kind, int msg_code, const char *text, const void *params);

/* libjpeg's message templates, indexed by J_MESSAGE_CODE (jerror.c). */
extern const char *const jpeg_std_message_table[];

/* Header and output geometry, read by JS straight from wasm memory.
 * Layout is mirrored by INFO in index.ts: int32 fields in this order. */
typedef struct {
  int32_t width;
  int32_t height;
  int32_t components;
  int32_t jpeg_color_space;  /* J_COLOR_SPACE of the file */
  int32_t progressive;
  int32_t saw_adobe;
  int32_t adobe_transform;
  int32_t out_width;
  int32_t out_height;
  int32_t out_components;
  int32_t out_color_space;   /* J_COLOR_SPACE of the output */
  int32_t rows_per_batch;    /* rows jd_read_rows writes at most */
  int32_t warnings;          /* libjpeg's count of recovered corrupt-data warnings */
} jd_info;

/* A malicious progressive file can hold thousands of scans, each a full pass
 * over the coefficient buffer; real encoders emit at most a few dozen.
 * (TurboJPEG's scan limit exists for the same reason.) */
#define JD_MAX_SCANS 100

/* Target size of one row batch handed to JS. */
#define JD_BATCH_BYTES (256 * 1024)

static struct jpeg_decompress_struct cinfo;
static struct jpeg_error_mgr jerr;
static struct jpeg_progress_mgr progress;
static jd_info info;
static JSAMPLE *row_batch;
static int header_read;
static int started;

static int failure_kind(int msg_code) {
  switch (msg_code) {
    case JERR_NO_SOI:
    case JERR_INPUT_EMPTY:
      return JD_UNSUPPORTED;
    case JERR_BAD_PRECISION:      /* 12-bit data: this is an 8-bit build */
    case JERR_SOF_UNSUPPORTED:    /* lossless and hierarchical JPEG */
    case JERR_NOTIMPL:
    case JERR_NOT_COMPILED:
    case JERR_CONVERSION_NOTIMPL:
      return JD_UNSUPPORTED;
    case JERR_OUT_OF_MEMORY:
    case JERR_NO_BACKING_STORE:   /* wanted more than max_memory_to_use */
    case JERR_IMAGE_TOO_BIG:
    case JERR_WIDTH_OVERFLOW:
      return JD_TOO_LARGE;
    case JERR_BAD_STATE:
      return JD_MISUSE;
    default:
      return JD_CORRUPT;
  }
}

static void fail_with_libjpeg_message(j_common_ptr common, int kind) {
  struct jpeg_error_mgr *err = common->err;
  int code = err->msg_code;
  if (code <= 0 || code > err->last_jpeg_message)
    jd_fail(kind, code, "unknown libjpeg error", NULL);
  jd_fail(kind, code, err->jpeg_message_table[code], &err->msg_parm);
}

static void on_error_exit(j_common_ptr common) {
  fail_with_libjpeg_message(common, failure_kind(common->err->msg_code));
}

/* PIL (with LOAD_TRUNCATED_IMAGES off) rejects a file whose data ends before
 * the image does; libjpeg's memory source instead warns JWRN_JPEG_EOF and
 * pads with an EOI marker. Turn that one warning into an error. Other
 * corrupt-data warnings are recovered from, as PIL lets libjpeg do. */
static void on_emit_message(j_common_ptr common, int msg_level) {
  if (msg_level < 0) {
    if (common->err->msg_code == JWRN_JPEG_EOF)
      fail_with_libjpeg_message(common, JD_CORRUPT);
    common->err->num_warnings++;
  }
}

/* Messages are only ever reported through jd_fail. */
static void on_output_message(j_common_ptr common) { (void)common; }
static void on_format_message(j_common_ptr common, char *buffer) {
  (void)common;
  buffer[0] = '\0';
}

static void on_reset_error_mgr(j_common_ptr common) {
  common->err->num_warnings = 0;
  common->err->msg_code = 0;
}

/* What jpeg_std_error() does, minus its printf-based defaults. */
static void init_error_mgr(struct jpeg_error_mgr *err) {
  err->error_exit = on_error_exit;
  err->emit_message = on_emit_message;
  err->output_message = on_output_message;
  err->format_message = on_format_message;
  err->reset_error_mgr = on_reset_error_mgr;
  err->trace_level = 0;
  err->num_warnings = 0;
  err->msg_code = 0;
  err->jpeg_message_table = jpeg_std_message_table;
  err->last_jpeg_message = (int)JMSG_LASTMSGCODE - 1;
  err->addon_message_table = NULL;
  err->first_addon_message = 0;
  err->last_addon_message = 0;
}

static void on_progress(j_common_ptr common) {
  j_decompress_ptr d = (j_decompress_ptr)common;
  if (common->is_decompressor && d->input_scan_number > JD_MAX_SCANS)
    jd_fail(JD_TOO_LARGE, 0, "JPEG has too many scans", NULL);
}

static void misuse(const char *message) { jd_fail(JD_MISUSE, 0, message, NULL); }

/* Memory for the compressed input; JS copies the file here. */
__attribute__((export_name("jd_alloc_input")))
unsigned char *jd_alloc_input(uint32_t size) {
  unsigned char *p = malloc(size ? size : 1);
  if (!p) jd_fail(JD_TOO_LARGE, 0, "not enough wasm memory for the input", NULL);
  return p;
}

/* Parses markers up to the first scan. max_memory caps libjpeg's own pool
 * accounting so that oversized coefficient buffers fail before allocation. */
__attribute__((export_name("jd_read_header")))
jd_info *jd_read_header(const unsigned char *data, uint32_t size,
                        uint32_t max_memory) {
  if (header_read) misuse("jd_read_header called twice");
  init_error_mgr(&jerr);
  cinfo.err = &jerr;
  jpeg_create_decompress(&cinfo);
  cinfo.mem->max_memory_to_use = max_memory > LONG_MAX ? LONG_MAX : (long)max_memory;
  progress.progress_monitor = on_progress;
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, data, size);
  jpeg_read_header(&cinfo, TRUE);
  header_read = 1;

  info.width = (int32_t)cinfo.image_width;
  info.height = (int32_t)cinfo.image_height;
  info.components = cinfo.num_components;
  info.jpeg_color_space = cinfo.jpeg_color_space;
  info.progressive = cinfo.progressive_mode ? 1 : 0;
  info.saw_adobe = cinfo.saw_Adobe_marker ? 1 : 0;
  info.adobe_transform = cinfo.Adobe_transform;
  info.warnings = (int32_t)jerr.num_warnings;
  return &info;
}

/* Chooses the output color space and scale, checks the output size against
 * max_output_pixels, then starts decompression (which, for progressive
 * files, reads every scan into the coefficient buffer). */
__attribute__((export_name("jd_start")))
jd_info *jd_start(uint32_t scale_denom, uint32_t max_output_pixels) {
  if (!header_read || started) misuse("jd_start called out of order");
  if (scale_denom != 1 && scale_denom != 2 && scale_denom != 4 &&
      scale_denom != 8)
    misuse("scale_denom must be 1, 2, 4 or 8");

  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_YCbCr:
    case JCS_RGB: cinfo.out_color_space = JCS_RGB; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; break;
    default:
      jd_fail(JD_UNSUPPORTED, 0, "JPEG color space is not gray, RGB or CMYK", NULL);
  }
  cinfo.scale_num = 1;
  cinfo.scale_denom = scale_denom;
  jpeg_calc_output_dimensions(&cinfo);
  if ((uint64_t)cinfo.output_width * cinfo.output_height > max_output_pixels)
    jd_fail(JD_TOO_LARGE, 0, "decoded image exceeds the output pixel limit", NULL);

  jpeg_start_decompress(&cinfo);
  started = 1;

  size_t row_bytes = (size_t)cinfo.output_width * cinfo.output_components;
  size_t rows = JD_BATCH_BYTES / row_bytes;
  if (rows < (size_t)cinfo.rec_outbuf_height) rows = cinfo.rec_outbuf_height;
  if (rows < 1) rows = 1;
  if (rows > cinfo.output_height) rows = cinfo.output_height;
  row_batch = malloc(rows * row_bytes);
  if (!row_batch) jd_fail(JD_TOO_LARGE, 0, "not enough wasm memory for rows", NULL);

  info.out_width = (int32_t)cinfo.output_width;
  info.out_height = (int32_t)cinfo.output_height;
  info.out_components = cinfo.output_components;
  info.out_color_space = cinfo.out_color_space;
  info.rows_per_batch = (int32_t)rows;
  info.warnings = (int32_t)jerr.num_warnings;
  return &info;
}

/* Decodes the next rows into the buffer at jd_row_batch(); returns how many
 * rows were written, 0 once the image is done. */
__attribute__((export_name("jd_read_rows")))
uint32_t jd_read_rows(void) {
  if (!started) misuse("jd_read_rows called before jd_start");
  JSAMPROW rows[64];
  size_t row_bytes = (size_t)cinfo.output_width * cinfo.output_components;
  uint32_t done = 0;
  uint32_t want = (uint32_t)info.rows_per_batch;
  while (done < want && cinfo.output_scanline < cinfo.output_height) {
    uint32_t n = want - done;
    if (n > 64) n = 64;
    for (uint32_t i = 0; i < n; i++) rows[i] = row_batch + (done + i) * row_bytes;
    JDIMENSION got = jpeg_read_scanlines(&cinfo, rows, n);
    /* Only a suspending data source returns 0; guard against a hang. */
    if (got == 0) misuse("libjpeg returned no rows");
    done += got;
  }
  info.warnings = (int32_t)jerr.num_warnings;
  return done;
}

__attribute__((export_name("jd_row_batch")))
JSAMPLE *jd_row_batch(void) { return row_batch; }
