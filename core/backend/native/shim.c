/*
 * convdeck native shim: the few oneDNN (2.x C API) calls the `native` backend needs, behind a
 * handful of flat entry points that Deno FFI can call. Every tensor lives in the
 * tfjs-backend-wasm heap: each call gets the heap's base pointer and byte offsets, and oneDNN
 * reads and writes that memory in place. Primitives are cached by shape (bounded, least
 * recently used evicted), with a single user-managed scratchpad shared by all of them.
 * Convolutions and matrix products run in float32, or in bf16 mixed precision after
 * cd_set_precision(1) (bf16 inputs converted here, float32 accumulation and outputs).
 *
 * Built automatically on first use by core/backend/native/shim_build.ts:
 *   cc -O3 -fPIC -shared -fopenmp shim.c -o <cache>/libconvdeck_dnnl-<hash>.so -ldnnl
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define MAX_KEY 24

static dnnl_engine_t engine = NULL;
static dnnl_stream_t stream = NULL;
static char last_error[512] = "";
static dnnl_memory_t scratch_mem = NULL;
static size_t scratch_size = 0;

typedef struct {
  int used;
  uint64_t last_use;
  double key[MAX_KEY];
  int nkey;
  dnnl_primitive_t prim;
  /* weights path: reorder user <-> primitive layout (NULL when layouts match) */
  dnnl_primitive_t reorder;
  dnnl_memory_t wbuf; /* library-allocated weights in the primitive's layout */
  dnnl_memory_desc_t md[4];
  size_t scratch;
  /* Winograd entries (conv_wino): the activations' reorders between the caller's NHWC and the
   * primitive's nChw16c, and the two blocked layouts (src, dst) */
  dnnl_primitive_t act_reorder[2];
  dnnl_memory_desc_t bmd[2];
} entry_t;

static entry_t *cache = NULL;
static int cache_cap = 0;
static uint64_t clock_ = 0;
static int64_t created_total = 0;

#define CHK(call)                                                                         \
  do {                                                                                    \
    dnnl_status_t s_ = (call);                                                            \
    if (s_ != dnnl_success) {                                                             \
      snprintf(last_error, sizeof last_error, "%s failed with oneDNN status %d", #call,  \
               (int)s_);                                                                  \
      goto fail;                                                                          \
    }                                                                                     \
  } while (0)

/* The exported entry points (defined, locked, at the end of the file). */
const char * cd_last_error(void);
int cd_version(void);
int cd_set_threads(int n);
int cd_cache_clear(void);
int cd_cache_size(void);
double cd_created_total(void);
double cd_scratch_bytes(void);
int cd_init(int capacity, int threads);
double cd_live_objects(void);
int cd_conv(int kind, uint8_t *heap, const double *p, double *o);
double cd_conv_grad_w(uint8_t *heap, const double *p, const double *o);
int cd_conv_grad_x(uint8_t *heap, const double *p, double gen, const double *o);
int cd_matmul(uint8_t *heap, const double *p, const double *o);
int cd_maxpool(uint8_t *heap, const double *p, const double *o);
int cd_maxpool_grad(uint8_t *heap, const double *p, const double *o);
int cd_unary(int op, uint8_t *heap, double n, double alpha, const double *o);
int cd_binary(int op, uint8_t *heap, double n, double nb, const double *o);
int cd_sum_rows(uint8_t *heap, double rows_, double cols_, const double *o);
int cd_adam(uint8_t *heap, const double *p, const double *o);
int cd_bf16_expand(uint8_t *heap, double n, double off);
int cd_bf16_activations(void);
double cd_gemm_wgrads(void);
int cd_cpu_isa(void);
int cd_set_precision(int precision);
double cd_xcache_hits(void);
double cd_own_wgrads(void);
double cd_winograd_convs(void);
int cd_own_kernels(void);

static const char * cd_last_error_unlocked(void) { return last_error; }

static int cd_version_unlocked(void) {
  const dnnl_version_t *v = dnnl_version();
  return v->major * 10000 + v->minor * 100 + v->patch;
}

static int cd_set_threads_unlocked(int n) {
#ifdef _OPENMP
  if (n > 0) omp_set_num_threads(n);
  return omp_get_max_threads();
#else
  (void)n;
  return 1;
#endif
}

static void entry_free(entry_t *e) {
  if (e->prim) dnnl_primitive_destroy(e->prim);
  if (e->reorder) dnnl_primitive_destroy(e->reorder);
  if (e->wbuf) dnnl_memory_destroy(e->wbuf);
  for (int i = 0; i < 2; i++)
    if (e->act_reorder[i]) dnnl_primitive_destroy(e->act_reorder[i]);
  memset(e, 0, sizeof *e);
}

static void bf_free_all(void);
static double bf16_wgrad_serial_flops;
static double bf16_wgrad_split_flops;
static int wg3_disabled;
static int wf3_disabled;
static int wf3_isa; /* AVX-512 as oneDNN sees it (set by cd_init) */
static int bf16_acts_off; /* CONVDECK_BF16_ACTIVATIONS=0 (read by cd_init) */
static int wgemm_disabled; /* CONVDECK_BF16_GEMM_WGRAD=0 (read by cd_init) */
static uint8_t *wgemm_buf;
static size_t wgemm_len;
static uint8_t *wf3_buf;
static size_t wf3_len;
static uint8_t *split_buf;
static size_t split_len;
static uint8_t *wg3_buf;
static size_t wg3_len;

static void xc_free_all(void);
static void gbuf_free(void);
static void wino_free(void);
static int wino_disabled; /* CONVDECK_FP32_WINOGRAD=0 (read by cd_init) */

static int cd_cache_clear_unlocked(void) {
  bf_free_all();
  xc_free_all();
  gbuf_free();
  wino_free();
  for (int i = 0; i < cache_cap; i++)
    if (cache[i].used) entry_free(&cache[i]);
  if (scratch_mem) dnnl_memory_destroy(scratch_mem);
  scratch_mem = NULL;
  scratch_size = 0;
  return 0;
}

static int cd_cache_size_unlocked(void) {
  int n = 0;
  for (int i = 0; i < cache_cap; i++) n += cache[i].used;
  return n;
}

/* Total primitives ever created: a test reads it to prove the cache is hit. */
static double cd_created_total_unlocked(void) { return (double)created_total; }

static double cd_scratch_bytes_unlocked(void) { return (double)scratch_size; }

static int cd_init_unlocked(int capacity, int threads) {
  if (engine == NULL) {
    CHK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
  }
  if (capacity < 1) capacity = 1;
  {
    /* CONVDECK_BF16_WGRAD_SERIAL_FLOPS: see bf16_wgrad_serial_flops (0: never serial) */
    const char *v = getenv("CONVDECK_BF16_WGRAD_SERIAL_FLOPS");
    if (v != NULL && *v != 0) bf16_wgrad_serial_flops = atof(v);
    /* CONVDECK_BF16_WGRAD_SPLIT_FLOPS: see bf16_wgrad_split_flops */
    v = getenv("CONVDECK_BF16_WGRAD_SPLIT_FLOPS");
    if (v != NULL && *v != 0) bf16_wgrad_split_flops = atof(v);
    /* CONVDECK_BF16_OWN_WGRAD=0: see wg3_fits */
    v = getenv("CONVDECK_BF16_OWN_WGRAD");
    wg3_disabled = v != NULL && strcmp(v, "0") == 0;
    /* CONVDECK_FP32_OWN_WGRAD=0: see wf3_fits */
    v = getenv("CONVDECK_FP32_OWN_WGRAD");
    wf3_disabled = v != NULL && strcmp(v, "0") == 0;
    /* CONVDECK_FP32_WINOGRAD=0: see wino_fits */
    v = getenv("CONVDECK_FP32_WINOGRAD");
    wino_disabled = v != NULL && strcmp(v, "0") == 0;
    /* CONVDECK_BF16_GEMM_WGRAD=0: see wgemm_fits */
    v = getenv("CONVDECK_BF16_GEMM_WGRAD");
    wgemm_disabled = v != NULL && strcmp(v, "0") == 0;
    /* CONVDECK_BF16_ACTIVATIONS=0: see cd_bf16_activations */
    v = getenv("CONVDECK_BF16_ACTIVATIONS");
    bf16_acts_off = v != NULL && strcmp(v, "0") == 0;
    wf3_isa = ((int)dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core) ==
              dnnl_cpu_isa_avx512_core;
  }
  if (cache != NULL) {
    cd_cache_clear();
    free(cache);
  }
  cache = calloc((size_t)capacity, sizeof(entry_t));
  cache_cap = capacity;
  cd_set_threads(threads);
  return 0;
fail:
  return -1;
}

static entry_t *lookup(const double *key, int nkey) {
  clock_++;
  for (int i = 0; i < cache_cap; i++) {
    entry_t *e = &cache[i];
    if (e->used && e->nkey == nkey && memcmp(e->key, key, sizeof(double) * nkey) == 0) {
      e->last_use = clock_;
      return e;
    }
  }
  return NULL;
}

static entry_t *slot(const double *key, int nkey) {
  entry_t *victim = &cache[0];
  for (int i = 0; i < cache_cap; i++) {
    if (!cache[i].used) {
      victim = &cache[i];
      break;
    }
    if (cache[i].last_use < victim->last_use) victim = &cache[i];
  }
  if (victim->used) entry_free(victim);
  memcpy(victim->key, key, sizeof(double) * nkey);
  victim->nkey = nkey;
  victim->last_use = clock_;
  return victim;
}

/* Grows the shared scratchpad to `bytes`; returns the memory object to pass. */
static int ensure_scratch(size_t bytes) {
  if (bytes <= scratch_size && scratch_mem) return 0;
  if (scratch_mem) dnnl_memory_destroy(scratch_mem);
  scratch_mem = NULL;
  dnnl_memory_desc_t md;
  dnnl_dims_t d = {(dnnl_dim_t)bytes};
  CHK(dnnl_memory_desc_init_by_tag(&md, 1, d, dnnl_u8, dnnl_a));
  CHK(dnnl_memory_create(&scratch_mem, &md, engine, DNNL_MEMORY_ALLOCATE));
  scratch_size = bytes;
  return 0;
fail:
  scratch_size = 0;
  return -1;
}

static dnnl_primitive_attr_t make_attr(int act, float alpha) {
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t po = NULL;
  if (dnnl_primitive_attr_create(&attr) != dnnl_success) return NULL;
  dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
  if (act != 0) {
    dnnl_post_ops_create(&po);
    switch (act) {
      case 1: dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, 0.f, 0.f); break;
      case 2: dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_clip, 0.f, 6.f); break;
      case 3: dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_elu, 1.f, 0.f); break;
      case 4: dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, alpha, 0.f); break;
      case 5: dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_logistic, 0.f, 0.f); break;
      case 6: dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_tanh, 0.f, 0.f); break;
      default: break;
    }
    dnnl_primitive_attr_set_post_ops(attr, po);
    dnnl_post_ops_destroy(po);
  }
  return attr;
}

static size_t pd_scratch(const_dnnl_primitive_desc_t pd) {
  const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  return md ? dnnl_memory_desc_get_size(md) : 0;
}

/* Live per-call memory objects: a test checks this returns to zero (no leak). */
static int64_t live_objects = 0;

static double cd_live_objects_unlocked(void) { return (double)live_objects; }

static int mem(dnnl_memory_t *m, const dnnl_memory_desc_t *md, void *p) {
  if (dnnl_memory_create(m, md, engine, p) != dnnl_success) return -1;
  live_objects++;
  return 0;
}

static void mem_release(dnnl_memory_t *m, int n) {
  for (int i = 0; i < n; i++) {
    if (m[i]) {
      dnnl_memory_destroy(m[i]);
      m[i] = NULL;
      live_objects--;
    }
  }
}

/*
 * Precision of the convolutions and matrix products: 0 float32, 1 bfloat16 mixed precision
 * (bf16 inputs and weights, float32 accumulation, float32 outputs, float32 weight gradients;
 * the caller's tensors, the master weights and everything else stay float32). The float32
 * inputs are converted here, into the shim's own buffers (bf_buf), just before each primitive.
 */
static int precision = 0;
/* generation of the kept conv output gradient (see gbuf below); a precision change ends it */
static double gbuf_gen = 0;

static int has_native_bf16(void) {
  const int isa = (int)dnnl_get_effective_cpu_isa();
  return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

static const char *isa_name(int isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41: return "SSE4.1";
    case dnnl_cpu_isa_avx: return "AVX";
    case dnnl_cpu_isa_avx2: return "AVX2";
    case dnnl_cpu_isa_avx2_vnni: return "AVX2-VNNI";
    case dnnl_cpu_isa_avx512_mic: return "AVX-512 (MIC)";
    case dnnl_cpu_isa_avx512_mic_4ops: return "AVX-512 (MIC 4ops)";
    case dnnl_cpu_isa_avx512_core: return "AVX-512";
    case dnnl_cpu_isa_avx512_core_vnni: return "AVX-512 VNNI";
    case dnnl_cpu_isa_avx512_core_bf16: return "AVX-512 BF16";
    case dnnl_cpu_isa_avx512_core_amx: return "AMX";
    default: return "unknown";
  }
}

/* The instruction set oneDNN dispatches to (dnnl_cpu_isa_t). */
static int cd_cpu_isa_unlocked(void) { return (int)dnnl_get_effective_cpu_isa(); }

/* 0 float32, 1 bfloat16; bfloat16 only where oneDNN has native bf16 kernels (no emulation). */
static int cd_set_precision_unlocked(int p) {
  if (p != 0 && p != 1) {
    snprintf(last_error, sizeof last_error, "unknown precision %d", p);
    return -1;
  }
  if (p == 1 && !has_native_bf16()) {
    snprintf(last_error, sizeof last_error,
             "bf16 needs a CPU with the AVX512-BF16 (AVX512_BF16) or AMX instruction set; "
             "oneDNN reports %s here",
             isa_name(cd_cpu_isa_unlocked()));
    return -1;
  }
  if (p != precision) {
    gbuf_gen += 1;
    xc_free_all();
  }
  precision = p;
  return 0;
}

/* float32 -> bfloat16, round to nearest even (NaN stays a quiet NaN). */
static inline uint16_t bf16_of(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* bfloat16 -> float32 (exact). */
static inline float f32_of(uint16_t h) {
  const uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* Value i of a float32 array, or of a bf16 one when bf (a packed tensor, see cd_bf16_expand). */
static inline float ld_act(const void *a, int64_t i, int bf) {
  return bf ? f32_of(((const uint16_t *)a)[i]) : ((const float *)a)[i];
}

/*
 * bf16 activations between layers (bf16 precision only): a tensor the caller marks "packed"
 * holds its n values as bf16 in the first half of its float32 buffer. The conv layer kernels,
 * the max pool and their gradients read and write such tensors (flags in their o arrays: the
 * conversions and half the memory traffic of float32 activations saved); anything else has the
 * caller expand the tensor first, here, in place: value i moves from bytes [2i, 2i + 2) to
 * [4i, 4i + 4). Values [ceil(n/2), n) are written past every bf16 value, so they go in
 * parallel; then the upper half of the rest the same way, and so on; the last few from the end
 * down.
 */
static int cd_bf16_expand_unlocked(uint8_t *heap, double n_, double off) {
  const uint16_t *h = (const uint16_t *)(heap + (size_t)off);
  float *f = (float *)(heap + (size_t)off);
  int64_t hi = (int64_t)n_;
  while (hi > 4096) {
    const int64_t lo = (hi + 1) / 2; /* 4 lo >= 2 hi: no write reaches a value of [0, hi) */
#pragma omp parallel for simd schedule(static) if (hi - lo > 32768)
    for (int64_t i = lo; i < hi; i++) f[i] = f32_of(h[i]);
    hi = lo;
  }
  for (int64_t i = hi - 1; i >= 0; i--) f[i] = f32_of(h[i]);
  return 0;
}

/* 1 when the caller should keep activations packed in bf16 precision (cd_bf16_expand); 0 when
 * CONVDECK_BF16_ACTIVATIONS=0 (float32 activations between layers, as before). */
static int cd_bf16_activations_unlocked(void) { return !bf16_acts_off; }

/* Conversion buffers, grown on demand. */
#define BF_SLOTS 3
static uint16_t *bf_buf[BF_SLOTS] = {0};
static size_t bf_len[BF_SLOTS] = {0};

static uint16_t *bf_slot(int k, int64_t n) {
  const size_t bytes = sizeof(uint16_t) * (size_t)n;
  if (bf_len[k] < bytes) {
    free(bf_buf[k]);
    bf_buf[k] = aligned_alloc(64, (bytes + 63) / 64 * 64);
    bf_len[k] = bf_buf[k] ? bytes : 0;
  }
  if (bf_buf[k] == NULL) snprintf(last_error, sizeof last_error, "out of memory for bf16 data");
  return bf_buf[k];
}

/* Grows a kept buffer to at least `bytes` (64-byte aligned; the old contents are dropped); -1
 * with last_error set when out of memory. */
static int grow_buf(uint8_t **buf, size_t *len, size_t bytes) {
  if (*len >= bytes) return 0;
  free(*buf);
  *buf = aligned_alloc(64, (bytes + 63) / 64 * 64);
  *len = *buf ? bytes : 0;
  if (*buf == NULL) {
    snprintf(last_error, sizeof last_error, "out of memory for a weight gradient's buffers");
    return -1;
  }
  return 0;
}

/* Kept between calls (a step reuses them at the same sizes); freed with the primitive cache. */
static void bf_free_all(void) {
  free(wgemm_buf);
  wgemm_buf = NULL;
  wgemm_len = 0;
  free(wg3_buf);
  wg3_buf = NULL;
  wg3_len = 0;
  free(wf3_buf);
  wf3_buf = NULL;
  wf3_len = 0;
  free(split_buf);
  split_buf = NULL;
  split_len = 0;
  for (int k = 0; k < BF_SLOTS; k++) {
    free(bf_buf[k]);
    bf_buf[k] = NULL;
    bf_len[k] = 0;
  }
}

/* d[i] = x[i] as bfloat16, for n values (multi-threaded when large). */
static void convert_bf16(uint16_t *d, const float *x, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; i++) d[i] = bf16_of(x[i]);
}

/* x (n float32) as bfloat16 in conversion buffer k; NULL when out of memory. */
static uint16_t *to_bf16(int k, const float *x, int64_t n) {
  uint16_t *d = bf_slot(k, n);
  if (d == NULL) return NULL;
  convert_bf16(d, x, n);
  return d;
}

/*
 * bf16 copies of the inputs of forward convolutions run under a gradient tape, kept for the
 * same layer's weight gradient, which would otherwise convert the same input again (every
 * convolution input was converted twice a step: 62 million values a step at 224x224, batch 16).
 * A forward returns a token for its copy; the caller keeps it with the input tensor's data
 * (immutable while the tape holds it) and hands it to the weight gradient, which uses the copy
 * only when the token, the input's offset and its length all match, else converts afresh. The
 * least recently used of XC_SLOTS copies is reused; at most XC_MAX_BYTES are held.
 */
#define XC_SLOTS 16
#define XC_MAX_BYTES ((size_t)1 << 30)
typedef struct {
  double token;
  size_t off;
  int64_t n;
  uint16_t *buf;
  size_t cap;
  uint64_t used;
} xc_slot_t;
static xc_slot_t xc[XC_SLOTS];
static double xc_tokens = 0, xc_hits = 0;
static uint64_t xc_clock = 0;

static void xc_free_all(void) {
  for (int i = 0; i < XC_SLOTS; i++) free(xc[i].buf);
  memset(xc, 0, sizeof xc);
}

/* x (n float32 at heap offset off) as bf16 in a kept slot, its token in *token; NULL (token 0)
 * when over the memory bound or out of memory: the caller then converts as usual. */
static uint16_t *xc_keep(size_t off, const float *x, int64_t n, double *token) {
  *token = 0;
  const size_t bytes = ((size_t)n * sizeof(uint16_t) + 63) / 64 * 64;
  int k = 0;
  size_t held = 0;
  for (int i = 0; i < XC_SLOTS; i++) {
    held += xc[i].cap;
    if (xc[i].used < xc[k].used) k = i;
  }
  if (xc[k].cap < bytes) {
    if (held - xc[k].cap + bytes > XC_MAX_BYTES) return NULL;
    free(xc[k].buf);
    xc[k].buf = aligned_alloc(64, bytes);
    xc[k].cap = xc[k].buf ? bytes : 0;
    xc[k].token = 0;
    if (xc[k].buf == NULL) return NULL;
  }
  uint16_t *d = xc[k].buf;
  convert_bf16(d, x, n);
  xc[k].token = ++xc_tokens;
  xc[k].off = off;
  xc[k].n = n;
  xc[k].used = ++xc_clock;
  *token = xc[k].token;
  return d;
}

/* The kept copy for token, when it is still the one of the input at off with n values. */
static uint16_t *xc_find(double token, size_t off, int64_t n) {
  if (token <= 0) return NULL;
  for (int i = 0; i < XC_SLOTS; i++) {
    if (xc[i].token == token && xc[i].off == off && xc[i].n == n && xc[i].buf != NULL) {
      xc[i].used = ++xc_clock;
      xc_hits += 1;
      return xc[i].buf;
    }
  }
  return NULL;
}

/* How many weight gradients used a kept copy (tests read it). */
static double cd_xcache_hits_unlocked(void) { return xc_hits; }

/*
 * Runs a weights reorder; small ones (under 2^17 elements) on the calling thread only: a
 * parallel region would first wake the other OpenMP threads, which costs more than the copy.
 */
static dnnl_status_t run_reorder(dnnl_primitive_t r, dnnl_memory_t from, dnnl_memory_t to,
                                 dnnl_dim_t elements) {
  dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
#ifdef _OPENMP
  if (elements < ((dnnl_dim_t)1 << 17)) {
    const int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    const dnnl_status_t s = dnnl_primitive_execute(r, stream, 2, ra);
    omp_set_num_threads(nt);
    return s;
  }
#else
  (void)elements;
#endif
  return dnnl_primitive_execute(r, stream, 2, ra);
}

/*
 * Convolution, NHWC activations, HWIO weights (tfjs's layouts), on raw pointers.
 * p: N H W C KH KW CO OH OW sH sW dH dW pT pL pB pR act alpha hasBias
 * kind 0 forward (t: x w b y), 1 backward data (t: dy w dx), 2 backward weights (t: x dy dw),
 * 3 backward weights and bias (t: x dy dw db).
 */
/* 1 while a cd_conv forward (kind 0) or cd_conv_grad_x (kind 1) writes its output in bf16 (a
 * packed tensor, see cd_bf16_expand); set and cleared by those two around conv_run. */
static int conv_out_bf16 = 0;

/* The primitive descriptor of a convolution pass (kind as conv_run) with fwd_pd as its forward
 * hint; for kind 0 the forward one itself (*pd takes it over, *fwd_pd becomes NULL). */
static dnnl_status_t conv_pass_pd(int kind, dnnl_alg_kind_t alg, const dnnl_memory_desc_t *src,
                                  const dnnl_memory_desc_t *w, const dnnl_memory_desc_t *bias,
                                  const dnnl_memory_desc_t *dst, const dnnl_dim_t *strides,
                                  const dnnl_dim_t *dil, const dnnl_dim_t *pl,
                                  const dnnl_dim_t *pr, const_dnnl_primitive_attr_t attr,
                                  dnnl_primitive_desc_t *fwd_pd, dnnl_primitive_desc_t *pd) {
  dnnl_convolution_desc_t d;
  dnnl_status_t s;
  if (kind == 0) {
    *pd = *fwd_pd;
    *fwd_pd = NULL;
    return dnnl_success;
  }
  if (kind == 1)
    s = dnnl_dilated_convolution_backward_data_desc_init(&d, alg, src, w, dst, strides, dil, pl,
                                                         pr);
  else
    s = dnnl_dilated_convolution_backward_weights_desc_init(
        &d, alg, src, w, kind == 3 ? bias : NULL, dst, strides, dil, pl, pr);
  if (s != dnnl_success) return s;
  return dnnl_primitive_desc_create(pd, &d, attr, engine, *fwd_pd);
}

/* A cache entry for key (created for the pass pd of kind as conv_run) with the caller-side
 * descriptors and the weights reorder (and its buffer) between the caller's layout wu and the one
 * pd wants, none where they are the same: into pd's for kinds 0 and 1, back from it for weight
 * gradients. NULL with last_error set on failure. */
static entry_t *conv_entry(const double *key, int nkey, const_dnnl_primitive_desc_t pd, int kind,
                           const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *wu,
                           const dnnl_memory_desc_t *bias, const dnnl_memory_desc_t *dst) {
  entry_t *e = slot(key, nkey);
  e->used = 1;
  e->md[0] = *src;
  e->md[1] = *wu;
  e->md[2] = *bias;
  e->md[3] = *dst;
  const dnnl_memory_desc_t *wp = dnnl_primitive_desc_query_md(
      pd, kind >= 2 ? dnnl_query_diff_weights_md : dnnl_query_weights_md, 0);
  if (dnnl_memory_desc_equal(wp, wu)) return e;
  dnnl_primitive_desc_t rpd = NULL;
  dnnl_status_t s = kind >= 2
                        ? dnnl_reorder_primitive_desc_create(&rpd, wp, engine, wu, engine, NULL)
                        : dnnl_reorder_primitive_desc_create(&rpd, wu, engine, wp, engine, NULL);
  if (s == dnnl_success) s = dnnl_primitive_create(&e->reorder, rpd);
  if (s == dnnl_success) s = dnnl_memory_create(&e->wbuf, wp, engine, DNNL_MEMORY_ALLOCATE);
  if (rpd) dnnl_primitive_desc_destroy(rpd);
  if (s == dnnl_success) return e;
  snprintf(last_error, sizeof last_error, "the weights reorder failed with oneDNN status %d",
           (int)s);
  entry_free(e);
  return NULL;
}

static int conv_run_threads(int kind, const double *p, void *const t[4], entry_t **prepare) {
  double key[MAX_KEY];
  const int NP = 20;
  const int obf = kind <= 1 && conv_out_bf16;
  key[0] = kind + 10 * precision + 100 * obf;
  memcpy(key + 1, p, sizeof(double) * NP);
  dnnl_primitive_desc_t fwd_pd = NULL, pd = NULL;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_memory_t m[5] = {0};
  entry_t *e = lookup(key, NP + 1);
  const dnnl_dim_t N = p[0], H = p[1], W = p[2], C = p[3], KH = p[4], KW = p[5], CO = p[6],
                   OH = p[7], OW = p[8];
  const int act = (int)p[17], has_bias = kind == 3 || (kind == 0 && (int)p[19]);
  if (e == NULL) {
    dnnl_memory_desc_t src, wu, wany, bias, dst, hsrc, hdst;
    /* bf16: every convolution input (x, dy, weights) in bf16, outputs (y, dx, dw, db) f32,
     * y and dx in bf16 where conv_out_bf16 says */
    const dnnl_data_type_t lo = precision ? dnnl_bf16 : dnnl_f32;
    dnnl_dims_t sd = {N, C, H, W}, wd = {CO, C, KH, KW}, bd = {CO}, dd = {N, CO, OH, OW};
    dnnl_dims_t strides = {(dnnl_dim_t)p[9], (dnnl_dim_t)p[10]};
    dnnl_dims_t dil = {(dnnl_dim_t)p[11] - 1, (dnnl_dim_t)p[12] - 1};
    dnnl_dims_t pl = {(dnnl_dim_t)p[13], (dnnl_dim_t)p[14]};
    dnnl_dims_t pr = {(dnnl_dim_t)p[15], (dnnl_dim_t)p[16]};
    dnnl_convolution_desc_t fd;
    CHK(dnnl_memory_desc_init_by_tag(&src, 4, sd, kind == 1 && !obf ? dnnl_f32 : lo,
                                     dnnl_nhwc));
    CHK(dnnl_memory_desc_init_by_tag(&hsrc, 4, sd, lo, dnnl_nhwc));
    CHK(dnnl_memory_desc_init_by_tag(&wu, 4, wd, dnnl_f32, dnnl_hwio));
    CHK(dnnl_memory_desc_init_by_tag(&wany, 4, wd, kind >= 2 ? dnnl_f32 : lo,
                                     dnnl_format_tag_any));
    CHK(dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_a));
    CHK(dnnl_memory_desc_init_by_tag(&dst, 4, dd, kind == 0 && !obf ? dnnl_f32 : lo,
                                     dnnl_nhwc));
    CHK(dnnl_memory_desc_init_by_tag(&hdst, 4, dd, lo, dnnl_nhwc));
    attr = make_attr(kind == 0 ? act : 0, (float)p[18]);
    if (kind == 0) {
      CHK(dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_inference,
                                                     dnnl_convolution_direct, &src, &wany,
                                                     has_bias ? &bias : NULL, &dst, strides,
                                                     dil, pl, pr));
    } else {
      /* the forward hint of a backward primitive: all in the compute type */
      dnnl_memory_desc_t hw;
      CHK(dnnl_memory_desc_init_by_tag(&hw, 4, wd, lo, dnnl_format_tag_any));
      CHK(dnnl_dilated_convolution_forward_desc_init(
          &fd, dnnl_forward_training, dnnl_convolution_direct, &hsrc, &hw,
          has_bias ? &bias : NULL, &hdst, strides, dil, pl, pr));
    }
    CHK(dnnl_primitive_desc_create(&fwd_pd, &fd, attr, engine, NULL));
    CHK(conv_pass_pd(kind, dnnl_convolution_direct, &src, &wany, &bias, &dst, strides, dil, pl, pr,
                     attr, &fwd_pd, &pd));
    if ((e = conv_entry(key, NP + 1, pd, kind, &src, &wu, &bias, &dst)) == NULL) goto fail;
    e->scratch = pd_scratch(pd);
    CHK(dnnl_primitive_create(&e->prim, pd));
    created_total++;
    dnnl_primitive_desc_destroy(pd);
    pd = NULL;
    if (fwd_pd) dnnl_primitive_desc_destroy(fwd_pd);
    fwd_pd = NULL;
    dnnl_primitive_attr_destroy(attr);
    attr = NULL;
  }
  if (prepare != NULL) {
    *prepare = e; /* created (or found): the caller runs it */
    return 0;
  }
  if (ensure_scratch(e->scratch) != 0) goto fail;
  /* user memories over the caller's buffers */
  if (kind == 0) {
    if (mem(&m[0], &e->md[0], t[0]) || mem(&m[1], &e->md[1], t[1]) ||
        mem(&m[2], &e->md[2], has_bias ? t[2] : NULL) || mem(&m[3], &e->md[3], t[3]))
      goto memfail;
    dnnl_memory_t w = m[1];
    if (e->reorder) {
      CHK(run_reorder(e->reorder, m[1], e->wbuf, KH * KW * C * CO));
      w = e->wbuf;
    }
    dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, m[0]}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, m[3]},
                            {DNNL_ARG_SCRATCHPAD, scratch_mem}, {DNNL_ARG_BIAS, m[2]}};
    CHK(dnnl_primitive_execute(e->prim, stream, has_bias ? 5 : 4, a));
  } else if (kind == 1) {
    if (mem(&m[0], &e->md[3], t[0]) || mem(&m[1], &e->md[1], t[1]) ||
        mem(&m[2], &e->md[0], t[2]))
      goto memfail;
    dnnl_memory_t w = m[1];
    if (e->reorder) {
      CHK(run_reorder(e->reorder, m[1], e->wbuf, KH * KW * C * CO));
      w = e->wbuf;
    }
    dnnl_exec_arg_t a[4] = {{DNNL_ARG_DIFF_DST, m[0]}, {DNNL_ARG_WEIGHTS, w},
                            {DNNL_ARG_DIFF_SRC, m[2]}, {DNNL_ARG_SCRATCHPAD, scratch_mem}};
    CHK(dnnl_primitive_execute(e->prim, stream, 4, a));
  } else {
    if (mem(&m[0], &e->md[0], t[0]) || mem(&m[1], &e->md[3], t[1]) ||
        mem(&m[2], &e->md[1], t[2]) || (kind == 3 && mem(&m[3], &e->md[2], t[3])))
      goto memfail;
    dnnl_memory_t w = e->reorder ? e->wbuf : m[2];
    dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, m[0]}, {DNNL_ARG_DIFF_DST, m[1]},
                            {DNNL_ARG_DIFF_WEIGHTS, w}, {DNNL_ARG_SCRATCHPAD, scratch_mem},
                            {DNNL_ARG_DIFF_BIAS, m[3]}};
    CHK(dnnl_primitive_execute(e->prim, stream, kind == 3 ? 5 : 4, a));
    if (e->reorder) CHK(run_reorder(e->reorder, e->wbuf, m[2], KH * KW * C * CO));
  }
  CHK(dnnl_stream_wait(stream));
  mem_release(m, 5);
  return 0;
memfail:
  snprintf(last_error, sizeof last_error, "dnnl_memory_create failed");
fail:
  mem_release(m, 5);
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (fwd_pd) dnnl_primitive_desc_destroy(fwd_pd);
  if (attr) dnnl_primitive_attr_destroy(attr);
  if (e && e->prim == NULL) entry_free(e);
  return -1;
}

/*
 * Winograd F(4x4, 3x3) convolutions in float32: oneDNN's jit_wino_4x3 kernels (AVX-512) take
 * 3x3, stride-1, 'same' convolutions (padding 1 on every side) with multiples of 16 channels in
 * and out, each pass (forward, input gradient, weight and bias gradient) with 36 multiplies for
 * 16 outputs where the direct kernel does 144. They read and write the activations blocked by
 * 16 channels (nChw16c), so a call reorders the caller's NHWC tensors into the shim's two
 * buffers (wino_buf: one the size of the input, one of the output) and the result back; a copy
 * costs a few percent of the convolution it serves (16x224x224x32: 7-11 ms each way against
 * 34-54 ms for the convolution). The input gradient that follows a weight gradient of the same
 * layer reuses the blocked output gradient the weight gradient left in the buffer (wino_g_gen).
 *
 * Used where wino_fits says, in float32 precision (oneDNN 2.6 has no bf16 Winograd), on images
 * of 5x5 output pixels or more (on 4x4 and 3x3 ones the tile is mostly padding: measured slower
 * for the input gradient), not with 16 channels in and out (16x32x32x16 -> 16, batch 32: the
 * forward pass and the input gradient 0.55x of the direct kernels' speed); the forward pass with a
 * ReLU or no activation. Measured alone, batch 16, 2 threads, each with its copies against the
 * direct NHWC kernel: 1.4-1.5x on the book's 224x224 32->32 layer, 1.5-2.0x at 112 px, 2.0-2.6x
 * at 56 and 28 px. The outputs differ from the direct convolution's by 1e-6 to 3e-6 of the
 * largest output (forward and input gradient of the book's layers, random inputs).
 * CONVDECK_FP32_WINOGRAD=0 turns it off; without AVX-512 (as oneDNN reports it) it is not tried,
 * and a pass oneDNN declines all the same stays direct (wino_declined).
 */
static uint8_t *wino_buf[2] = {0};
static size_t wino_len[2] = {0};
/* keys (as wino_entry's) of passes whose Winograd primitive oneDNN declined though wino_fits
 * took them (a shape or an activation its kernel does not take): they stay direct without asking
 * again */
#define WINO_DECLINED 16
static double wino_declined[WINO_DECLINED][MAX_KEY];
static int wino_declined_n = 0;
static double wino_calls = 0;
/* token (conv_g_gen's) of the output gradient that wino_buf[1] holds blocked; 0: none */
static double wino_g_gen = 0;
/* token of the output gradient a layer's cd_conv_grad_w and cd_conv_grad_x give conv_run (set
 * around it by them; else 0): the kept gbuf's generation (> 0), or, where the gradient is dy
 * itself (float32 without a ReLU mask: a conv before a ReLU max pool, which folded the mask),
 * dy_token (< 0), which the input gradient right after the weight gradient of the same dy gets */
static double conv_g_gen = 0;
static double dy_token = 0;
static const void *dy_last = NULL;

static void wino_free(void) {
  for (int i = 0; i < 2; i++) {
    free(wino_buf[i]);
    wino_buf[i] = NULL;
    wino_len[i] = 0;
  }
  wino_g_gen = 0;
}

/* 1 when conv_wino takes this convolution pass (kind as conv_run; p as conv_run). */
static int wino_fits(int kind, const double *p) {
  if (precision || wino_disabled || !wf3_isa) return 0;
  for (int i = 13; i <= 16; i++)
    if (p[i] != 1) return 0;
  const int act = (int)p[17];
  return p[4] == 3 && p[5] == 3 && p[9] == 1 && p[10] == 1 && p[11] == 1 && p[12] == 1 &&
         (int64_t)p[3] % 16 == 0 && (int64_t)p[6] % 16 == 0 && (p[3] >= 32 || p[6] >= 32) &&
         p[7] >= 5 && p[8] >= 5 &&
         p[7] == p[1] && p[8] == p[2] && (kind != 0 || act == 0 || act == 1);
}

/* The cached Winograd primitive of this pass with its reorders; NULL with *declined set where
 * oneDNN declines the pass (see wino_declined), else with last_error set. */
static entry_t *wino_entry(int kind, const double *p, int *declined) {
  double key[MAX_KEY];
  const int NP = 20;
  key[0] = 1000 + kind;
  memcpy(key + 1, p, sizeof(double) * NP);
  entry_t *e = lookup(key, NP + 1);
  if (e != NULL) return e;
  for (int i = 0; i < wino_declined_n && i < WINO_DECLINED; i++) {
    if (memcmp(wino_declined[i], key, sizeof(double) * (NP + 1)) == 0) {
      *declined = 1;
      return NULL;
    }
  }
  dnnl_primitive_desc_t fwd_pd = NULL, pd = NULL, rpd = NULL;
  dnnl_primitive_attr_t attr = NULL;
  const dnnl_dim_t N = p[0], H = p[1], W = p[2], C = p[3], CO = p[6];
  const int has_bias = kind == 3 || (kind == 0 && (int)p[19]);
  dnnl_memory_desc_t usrc, udst, bsrc, bdst, wu, wany, bias;
  dnnl_dims_t sd = {N, C, H, W}, wd = {CO, C, 3, 3}, bd = {CO}, dd = {N, CO, H, W};
  dnnl_dims_t ones = {1, 1}, zeros = {0, 0};
  dnnl_convolution_desc_t fd;
  CHK(dnnl_memory_desc_init_by_tag(&usrc, 4, sd, dnnl_f32, dnnl_nhwc));
  CHK(dnnl_memory_desc_init_by_tag(&udst, 4, dd, dnnl_f32, dnnl_nhwc));
  CHK(dnnl_memory_desc_init_by_tag(&bsrc, 4, sd, dnnl_f32, dnnl_nChw16c));
  CHK(dnnl_memory_desc_init_by_tag(&bdst, 4, dd, dnnl_f32, dnnl_nChw16c));
  CHK(dnnl_memory_desc_init_by_tag(&wu, 4, wd, dnnl_f32, dnnl_hwio));
  CHK(dnnl_memory_desc_init_by_tag(&wany, 4, wd, dnnl_f32, dnnl_format_tag_any));
  CHK(dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_a));
  attr = make_attr(kind == 0 ? (int)p[17] : 0, (float)p[18]);
  /* forward_training even for the forward pass: its weights stay blocked HWIO, transformed
   * inside the kernel, where forward_inference's pre-transformed layout costs a single-threaded
   * reorder per call (256x256 channels: 19 ms, most of the pass) */
  CHK(dnnl_dilated_convolution_forward_desc_init(
      &fd, dnnl_forward_training, dnnl_convolution_winograd, &bsrc, &wany,
      has_bias ? &bias : NULL, &bdst, ones, zeros, ones, ones));
  if (dnnl_primitive_desc_create(&fwd_pd, &fd, attr, engine, NULL) != dnnl_success ||
      conv_pass_pd(kind, dnnl_convolution_winograd, &bsrc, &wany, &bias, &bdst, ones, zeros, ones,
                   ones, attr, &fwd_pd, &pd) != dnnl_success) {
    memcpy(wino_declined[wino_declined_n++ % WINO_DECLINED], key, sizeof(double) * (NP + 1));
    *declined = 1;
    goto fail;
  }
  if ((e = conv_entry(key, NP + 1, pd, kind, &usrc, &wu, &bias, &udst)) == NULL) goto fail;
  e->bmd[0] = bsrc;
  e->bmd[1] = bdst;
  /* the activations: [0] into the primitive's layout (x, or the output gradient of kind 1),
   * [1] the other (kind 0, 1: the result back to NHWC; kinds 2, 3: the output gradient in) */
  const dnnl_memory_desc_t *from[2] = {kind == 1 ? &udst : &usrc, kind == 0 ? &bdst
                                                                  : kind == 1 ? &bsrc
                                                                              : &udst};
  const dnnl_memory_desc_t *to[2] = {kind == 1 ? &bdst : &bsrc, kind == 0 ? &udst
                                                                : kind == 1 ? &usrc
                                                                            : &bdst};
  for (int i = 0; i < 2; i++) {
    CHK(dnnl_reorder_primitive_desc_create(&rpd, from[i], engine, to[i], engine, NULL));
    CHK(dnnl_primitive_create(&e->act_reorder[i], rpd));
    dnnl_primitive_desc_destroy(rpd);
    rpd = NULL;
  }
  e->scratch = pd_scratch(pd);
  CHK(dnnl_primitive_create(&e->prim, pd));
  created_total++;
  dnnl_primitive_desc_destroy(pd);
  if (fwd_pd) dnnl_primitive_desc_destroy(fwd_pd);
  dnnl_primitive_attr_destroy(attr);
  return e;
fail:
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (fwd_pd) dnnl_primitive_desc_destroy(fwd_pd);
  if (rpd) dnnl_primitive_desc_destroy(rpd);
  if (attr) dnnl_primitive_attr_destroy(attr);
  if (e && e->prim == NULL) entry_free(e);
  return NULL;
}

/* One Winograd pass; kind and t as conv_run. Returns 1 (nothing done) where oneDNN declines the
 * pass (see wino_declined), so that the caller runs the direct one. */
static int conv_wino(int kind, const double *p, void *const t[4]) {
  int declined = 0;
  entry_t *e = wino_entry(kind, p, &declined);
  if (e == NULL) return declined ? 1 : -1;
  const int64_t nin = (int64_t)p[0] * (int64_t)p[1] * (int64_t)p[2] * (int64_t)p[3];
  const int64_t nout = (int64_t)p[0] * (int64_t)p[7] * (int64_t)p[8] * (int64_t)p[6];
  const dnnl_dim_t nw = 9 * (dnnl_dim_t)p[3] * (dnnl_dim_t)p[6];
  /* the input gradient of the layer whose weight gradient just left its output gradient here */
  const int reuse = kind == 1 && conv_g_gen != 0 && conv_g_gen == wino_g_gen;
  dnnl_memory_t m[6] = {0};
  if (grow_buf(&wino_buf[0], &wino_len[0], sizeof(float) * (size_t)nin) != 0 ||
      grow_buf(&wino_buf[1], &wino_len[1], sizeof(float) * (size_t)nout) != 0) {
    wino_free();
    return -1;
  }
  if (ensure_scratch(e->scratch) != 0) return -1;
  /* m: 0 the NHWC tensor reorder [0] reads, 1 the NHWC tensor of reorder [1], 2 blocked src,
   * 3 blocked dst, 4 the caller's weights (or weight gradient), 5 bias (or bias gradient) */
  void *u0 = t[0], *u1 = kind == 0 ? t[3] : kind == 1 ? t[2] : t[1];
  if (mem(&m[0], kind == 1 ? &e->md[3] : &e->md[0], u0) ||
      mem(&m[1], kind == 1 ? &e->md[0] : &e->md[3], u1) ||
      mem(&m[2], &e->bmd[0], wino_buf[0]) || mem(&m[3], &e->bmd[1], wino_buf[1]) ||
      mem(&m[4], &e->md[1], kind >= 2 ? t[2] : t[1]) ||
      mem(&m[5], &e->md[2], kind == 3 ? t[3] : kind == 0 ? t[2] : NULL))
    goto memfail;
  if (!reuse)
    CHK(run_reorder(e->act_reorder[0], m[0], kind == 1 ? m[3] : m[2], kind == 1 ? nout : nin));
  wino_g_gen = 0;
  if (kind >= 2) {
    CHK(run_reorder(e->act_reorder[1], m[1], m[3], nout));
    wino_g_gen = conv_g_gen;
    dnnl_memory_t w = e->reorder ? e->wbuf : m[4];
    dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, m[2]}, {DNNL_ARG_DIFF_DST, m[3]},
                            {DNNL_ARG_DIFF_WEIGHTS, w}, {DNNL_ARG_SCRATCHPAD, scratch_mem},
                            {DNNL_ARG_DIFF_BIAS, m[5]}};
    CHK(dnnl_primitive_execute(e->prim, stream, kind == 3 ? 5 : 4, a));
    if (e->reorder) CHK(run_reorder(e->reorder, e->wbuf, m[4], nw));
  } else {
    dnnl_memory_t w = m[4];
    if (e->reorder) {
      CHK(run_reorder(e->reorder, m[4], e->wbuf, nw));
      w = e->wbuf;
    }
    const int has_bias = kind == 0 && (int)p[19];
    dnnl_exec_arg_t a[5] = {{kind == 0 ? DNNL_ARG_SRC : DNNL_ARG_DIFF_SRC, m[2]},
                            {kind == 0 ? DNNL_ARG_DST : DNNL_ARG_DIFF_DST, m[3]},
                            {DNNL_ARG_WEIGHTS, w},
                            {DNNL_ARG_SCRATCHPAD, scratch_mem},
                            {DNNL_ARG_BIAS, m[5]}};
    CHK(dnnl_primitive_execute(e->prim, stream, has_bias ? 5 : 4, a));
    CHK(run_reorder(e->act_reorder[1], kind == 0 ? m[3] : m[2], m[1], kind == 0 ? nout : nin));
  }
  CHK(dnnl_stream_wait(stream));
  mem_release(m, 6);
  wino_calls += 1;
  return 0;
memfail:
  snprintf(last_error, sizeof last_error, "dnnl_memory_create failed");
fail:
  mem_release(m, 6);
  return -1;
}

/* How many convolution passes conv_wino ran (tests read it). */
static double cd_winograd_convs_unlocked(void) { return wino_calls; }

/*
 * oneDNN's bf16 weight-gradient kernel (jit_bf16) synchronises its threads many times per call
 * (a barrier around each transposed block), where the float32 one reduces once. On a busy
 * machine each barrier can wait for a descheduled thread's whole time slice: the book model's
 * first layer (16x32x32x3 -> 32, 28 MFLOP) under load 10 on 2 cores took 0.3 ms on one thread
 * against 0.5-450 ms on two, and a whole 32x32 batch-16 step 34 ms with every bf16 weight
 * gradient on one thread against 260-640 ms on two (float32: 66 ms). So a bf16 weight gradient
 * below `bf16_wgrad_serial_flops` (default: all; CONVDECK_BF16_WGRAD_SERIAL_FLOPS sets it, 0
 * leaves every one to oneDNN's threads) is threaded here instead: split by batch
 * (conv_wgrad_split) when the batch divides among the threads and it has at least
 * `bf16_wgrad_split_flops`, else on the calling thread.
 */
static double bf16_wgrad_serial_flops = 1e300;

#ifdef _OPENMP
static double conv_flops(const double *p) {
  return 2.0 * p[0] * p[7] * p[8] * p[6] * p[4] * p[5] * p[3];
}
#endif

/*
 * dst = the sum of T partial results of n floats, partial i at buf + per * i + off (dst may be
 * partial 0 itself), added partial by partial in thread order (one vectorized pass each: the same
 * sums in the same order as per element, so deterministic for a thread count).
 */
static void add_partials(float *dst, const uint8_t *buf, size_t per, size_t off, int T,
                         int64_t n) {
  const float *p0 = (const float *)(buf + off);
  if (dst != p0) memcpy(dst, p0, sizeof(float) * (size_t)n);
  for (int i = 1; i < T; i++) {
    const float *pi = (const float *)(buf + per * (size_t)i + off);
#pragma omp parallel for simd schedule(static) num_threads(T) if (n > 32768)
    for (int64_t j = 0; j < n; j++) dst[j] += pi[j];
  }
}

#if defined(__x86_64__) && !defined(_MSC_VER) && (defined(__GNUC__) || defined(__clang__))
/* db[c] = the sum in double, in thread order, of T partial bias gradients of CO doubles, partial i
 * at buf + per * i + off (the own weight-gradient kernels' bias gradients; built where they are) */
static void add_bias_partials(float *db, const uint8_t *buf, size_t per, size_t off, int T,
                              int64_t CO) {
  for (int64_t c = 0; c < CO; c++) {
    double s = 0;
    for (int i = 0; i < T; i++) s += ((const double *)(buf + per * (size_t)i + off))[c];
    db[c] = (float)s;
  }
}
#endif

/* Per-thread buffers (scratchpad, weight and bias gradients) and streams of conv_wgrad_split. */
#define SPLIT_MAX 64
static uint8_t *split_buf = NULL;
static size_t split_len = 0;

#ifdef _OPENMP /* used only with OpenMP threads */
static dnnl_stream_t split_stream[SPLIT_MAX] = {0};

/*
 * A bf16 weight gradient (kind 2, or 3 with the bias) split by batch over T threads, without
 * the barriers of oneDNN's own threading: each thread runs a one-thread primitive of batch N/T
 * on its slice of x and dy into gradient buffers of its own, at the same time, and the T partial
 * gradients are then added up in thread order (the same sums every run: deterministic for a
 * thread count). t as conv_run (x and dy in bf16).
 */
static int conv_wgrad_split(int kind, const double *p, void *const t[4], int T) {
  double q[20];
  memcpy(q, p, sizeof q);
  q[0] = p[0] / T;
  const int64_t chunk = (int64_t)q[0];
  entry_t *e = NULL;
#ifdef _OPENMP
  const int nt = omp_get_max_threads();
  omp_set_num_threads(1);
#endif
  int rc = conv_run_threads(kind, q, NULL, &e);
#ifdef _OPENMP
  omp_set_num_threads(nt);
#endif
  if (rc != 0) return -1;
  const int64_t CO = (int64_t)p[6];
  const dnnl_memory_desc_t *wmd = &e->md[1];
  if (e->wbuf && dnnl_memory_get_memory_desc(e->wbuf, &wmd) != dnnl_success) {
    snprintf(last_error, sizeof last_error, "dnnl_memory_get_memory_desc failed");
    return -1;
  }
  const size_t wbytes = dnnl_memory_desc_get_size(wmd);
  const size_t sb = (e->scratch + 63) / 64 * 64, wb = (wbytes + 63) / 64 * 64,
               bb = (sizeof(float) * (size_t)CO + 63) / 64 * 64, per = sb + wb + bb;
  if (grow_buf(&split_buf, &split_len, per * (size_t)T) != 0) return -1;
  for (int i = 0; i < T; i++)
    if (split_stream[i] == NULL)
      CHK(dnnl_stream_create(&split_stream[i], engine, dnnl_stream_default_flags));
  dnnl_memory_t m[SPLIT_MAX][5];
  memset(m, 0, sizeof m);
  dnnl_memory_desc_t smd;
  {
    dnnl_dims_t d = {(dnnl_dim_t)(e->scratch > 0 ? e->scratch : 1)};
    CHK(dnnl_memory_desc_init_by_tag(&smd, 1, d, dnnl_u8, dnnl_a));
  }
  const size_t xs = (size_t)chunk * (size_t)(p[1] * p[2] * p[3]) * sizeof(uint16_t);
  const size_t gs = (size_t)chunk * (size_t)(p[7] * p[8] * p[6]) * sizeof(uint16_t);
  int ok = 1;
  for (int i = 0; i < T && ok; i++) {
    uint8_t *b = split_buf + per * (size_t)i;
    ok = !mem(&m[i][0], &e->md[0], (uint8_t *)t[0] + xs * i) &&
         !mem(&m[i][1], &e->md[3], (uint8_t *)t[1] + gs * i) &&
         !mem(&m[i][2], wmd, b + sb) && !mem(&m[i][3], &e->md[2], b + sb + wb) &&
         !mem(&m[i][4], &smd, b);
  }
  dnnl_status_t st[SPLIT_MAX];
  if (ok) {
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int i = 0; i < T; i++) {
      dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, m[i][0]}, {DNNL_ARG_DIFF_DST, m[i][1]},
                              {DNNL_ARG_DIFF_WEIGHTS, m[i][2]}, {DNNL_ARG_SCRATCHPAD, m[i][4]},
                              {DNNL_ARG_DIFF_BIAS, m[i][3]}};
      st[i] = dnnl_primitive_execute(e->prim, split_stream[i], kind == 3 ? 5 : 4, a);
      if (st[i] == dnnl_success) st[i] = dnnl_stream_wait(split_stream[i]);
    }
    for (int i = 0; i < T; i++) ok = ok && st[i] == dnnl_success;
  }
  if (!ok) {
    for (int i = 0; i < T; i++) mem_release(m[i], 5);
    snprintf(last_error, sizeof last_error, "bf16 weight gradient (split) failed");
    return -1;
  }
  /* add the partial gradients, thread by thread, into thread 0's */
  float *w0 = (float *)(split_buf + sb);
  const int64_t nw = (int64_t)(wbytes / sizeof(float));
  add_partials(w0, split_buf, per, sb, T, nw);
  if (kind == 3) {
    float *db = t[3];
    for (int64_t c = 0; c < CO; c++) {
      float s_ = 0.f;
      for (int i = 0; i < T; i++) s_ += ((const float *)(split_buf + per * (size_t)i + sb + wb))[c];
      db[c] = s_;
    }
  }
  if (e->reorder) {
    dnnl_memory_t user = NULL;
    if (mem(&user, &e->md[1], t[2])) {
      ok = 0;
    } else {
      ok = run_reorder(e->reorder, m[0][2], user, (dnnl_dim_t)nw) == dnnl_success;
      mem_release(&user, 1);
    }
  } else {
    memcpy(t[2], w0, wbytes);
  }
  for (int i = 0; i < T; i++) mem_release(m[i], 5);
  if (!ok) {
    snprintf(last_error, sizeof last_error, "bf16 weight gradient reorder failed");
    return -1;
  }
  return 0;
fail:
  return -1;
}
#endif

/*
 * The own 3x3 'same' weight-gradient kernels read the input through its zero-padded rows: padded
 * row n * (H + 2) + ih + 1 is input row ih of image n (rows 0 and H + 1 of each image are zeros).
 * Output rows [r0, r1) (n * H + oh) read padded rows *first .. *last.
 */
static inline void padded_rows(int64_t r0, int64_t r1, int64_t H, int64_t *first,
                               int64_t *last) {
  *first = (r0 / H) * (H + 2) + r0 % H;
  *last = ((r1 - 1) / H) * (H + 2) + (r1 - 1) % H + 2;
}

/* at most how many padded rows a run of `rows` output rows reads (with the padding it crosses) */
static inline int64_t padded_rows_max(int64_t rows, int64_t H) {
  return rows + 2 * (rows / H + 2) + 2;
}

/*
 * The bf16 weight gradient of a 3x3, stride 1, 'same' convolution with 32 or 64 input channels
 * (the book model's 32->32, 32->64, 64->64 and 64->128 layers), on AVX512-BF16 dot products:
 * oneDNN 2.6's kernel for these (jit_bf16) runs at 124-180 GFLOP/s per core here against ~228
 * for its forward, and this one at 166-216 with its packing (see the README's mixed-precision
 * section).
 *
 * dW[kh][kw][ci][co] = sum over the output pixels p of x[p shifted by (kh-1, kw-1)][ci] * g[p][co].
 * VDPBF16PS adds two products per lane, so the sum runs over pairs of pixels: g is packed as
 * (g[p][co], g[p+1][co]) pairs for the pixel pairs (2q, 2q+1) of each output row (G), x as
 * the pairs of its zero-padded rows starting at even (Xe) and odd (Xo) padded columns, so that
 * every tap's x pair is one 32-bit broadcast: padded row oh + kh, pair q + kw / 2 of Xe for
 * kw = 0 and 2, pair q of Xo for kw = 1. A tile of 8 input by 32 output channels (16
 * accumulators) runs over a chunk of rows that stays in the L2 cache. Each thread packs and
 * sums its own rows (a fixed split: deterministic for a thread count) into a gradient of its
 * own; the partial gradients and the bias gradient (in double) are then added in thread order.
 */
/* (compilers that know AVX512-BF16: GCC 10+, clang 9+; others build without this kernel) */
#if defined(__x86_64__) && !defined(_MSC_VER) &&                                        \
    ((defined(__clang__) && __clang_major__ >= 9) ||                                   \
     (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 10))
#define WG3 1
#define WG3_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))
#include <immintrin.h>

typedef struct {
  int64_t N, H, W, C, CO, Q, P; /* Q pixel pairs per output row; P = Q + 1 per padded x row */
  int64_t xrow0, grow0;         /* first padded x row and first output row in the buffers */
  uint32_t *Xe, *Xo, *G;
} wg3_t;

/* interleaves 32 bf16 of a and b (NULL: zeros) into 32 pairs (a0 b0) (a1 b1) ... at out */
WG3_TARGET static inline void wg3_pair32(const uint16_t *a, const uint16_t *b, uint32_t *out) {
  const __m512i lo = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40,
                                      8, 39, 7, 38, 6, 37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
  const __m512i hi = _mm512_set_epi16(63, 31, 62, 30, 61, 29, 60, 28, 59, 27, 58, 26, 57, 25,
                                      56, 24, 55, 23, 54, 22, 53, 21, 52, 20, 51, 19, 50, 18, 49,
                                      17, 48, 16);
  const __m512i va = a ? _mm512_loadu_si512(a) : _mm512_setzero_si512();
  const __m512i vb = b ? _mm512_loadu_si512(b) : _mm512_setzero_si512();
  _mm512_storeu_si512(out, _mm512_permutex2var_epi16(va, lo, vb));
  _mm512_storeu_si512(out + 16, _mm512_permutex2var_epi16(va, hi, vb));
}

/* packs padded x row xr (n * (H + 2) + r; r = 0 and H + 1 are the zero padding) */
WG3_TARGET static void wg3_pack_x(const wg3_t *a, const uint16_t *x, int64_t xr) {
  const int64_t H = a->H, W = a->W, C = a->C, P = a->P, n = xr / (H + 2), ih = xr % (H + 2) - 1;
  uint32_t *xe = a->Xe + (size_t)((xr - a->xrow0) * P * C);
  uint32_t *xo = a->Xo + (size_t)((xr - a->xrow0) * P * C);
  const uint16_t *row = ih >= 0 && ih < H ? x + (size_t)((n * H + ih) * W * C) : NULL;
  for (int64_t j = 0; j < P; j++) {
    const uint16_t *px[3];
    for (int k = 0; k < 3; k++) {
      const int64_t col = 2 * j + k - 1; /* padded column 2j + k is image column 2j + k - 1 */
      px[k] = row != NULL && col >= 0 && col < W ? row + (size_t)(col * C) : NULL;
    }
    for (int64_t c = 0; c < C; c += 32) {
      wg3_pair32(px[0] ? px[0] + c : NULL, px[1] ? px[1] + c : NULL, xe + j * C + c);
      wg3_pair32(px[1] ? px[1] + c : NULL, px[2] ? px[2] + c : NULL, xo + j * C + c);
    }
  }
}

/* packs output row rr of g into G and adds its values to db (double, CO) */
WG3_TARGET static void wg3_pack_g(const wg3_t *a, const uint16_t *g, int64_t rr, double *db) {
  const int64_t W = a->W, CO = a->CO, Q = a->Q;
  const uint16_t *row = g + (size_t)(rr * W * CO);
  uint32_t *out = a->G + (size_t)((rr - a->grow0) * Q * CO);
  for (int64_t q = 0; q < Q; q++) {
    const uint16_t *p0 = row + (size_t)(2 * q * CO), *p1 = 2 * q + 1 < W ? p0 + CO : NULL;
    for (int64_t c = 0; c < CO; c += 32) wg3_pair32(p0 + c, p1 ? p1 + c : NULL, out + q * CO + c);
  }
  /* the row's sum per channel in float32 (at most W terms), then into db in double */
  for (int64_t c = 0; c < CO; c += 16) {
    __m512 sum = _mm512_setzero_ps();
    for (int64_t w = 0; w < W; w++) {
      const __m256i v = _mm256_loadu_si256((const __m256i *)(row + (size_t)(w * CO + c)));
      sum = _mm512_add_ps(sum, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16)));
    }
    float f[16];
    _mm512_storeu_ps(f, sum);
    for (int k = 0; k < 16; k++) db[c + k] += f[k];
  }
}

#define WG3_CI 8
#define WG3_COV 2
/* d[ci][co] (row stride CO) += tap (kh, kw) over output rows [r0, r1), input channels
 * ci0..ci0+7, output channels co0..co0+31 */
WG3_TARGET static void wg3_tile(const wg3_t *a, int kh, int kw, int64_t ci0, int64_t co0,
                                int64_t r0, int64_t r1, float *d) {
  const int64_t C = a->C, CO = a->CO, Q = a->Q, H = a->H, P = a->P;
  __m512 acc[WG3_CI][WG3_COV];
  for (int i = 0; i < WG3_CI; i++)
    for (int j = 0; j < WG3_COV; j++) acc[i][j] = _mm512_loadu_ps(d + i * CO + 16 * j);
  const uint32_t *xb = (kw == 1 ? a->Xo : a->Xe) + (size_t)((kh * P + (kw == 2)) * C + ci0);
  int64_t n = r0 / H, oh = r0 % H;
  for (int64_t rr = r0; rr < r1; rr++) {
    const uint32_t *xp = xb + (size_t)((n * (H + 2) + oh - a->xrow0) * P * C);
    const uint32_t *gp = a->G + (size_t)((rr - a->grow0) * Q * CO + co0);
    for (int64_t q = 0; q < Q; q++) {
      __m512i gv[WG3_COV];
      for (int j = 0; j < WG3_COV; j++) gv[j] = _mm512_loadu_si512(gp + 16 * j);
      for (int i = 0; i < WG3_CI; i++) {
        const __m512i xv = _mm512_set1_epi32((int)xp[i]);
        for (int j = 0; j < WG3_COV; j++)
          acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)xv, (__m512bh)gv[j]);
      }
      xp += C;
      gp += CO;
    }
    if (++oh == H) oh = 0, n++;
  }
  for (int i = 0; i < WG3_CI; i++)
    for (int j = 0; j < WG3_COV; j++) _mm512_storeu_ps(d + i * CO + 16 * j, acc[i][j]);
}

/* output rows [r0, r1) of x (bf16) and g (bf16) into dw (f32, HWIO, zeroed here) and db
 * (double), packing a block of rows at a time into buf (wg3_buf_bytes(block)) */
WG3_TARGET static void wg3_rows(wg3_t a, const uint16_t *x, const uint16_t *g, int64_t r0,
                                int64_t r1, int64_t block, uint8_t *buf, float *dw, double *db) {
  const int64_t H = a.H, C = a.C, CO = a.CO, Q = a.Q, P = a.P;
  memset(dw, 0, sizeof(float) * (size_t)(9 * C * CO));
  int64_t chunk = (16384 / CO) / Q; /* rows per pass of a tile: its g rows stay in L1/L2 */
  if (chunk < 1) chunk = 1;
  for (int64_t b0 = r0; b0 < r1; b0 += block) {
    const int64_t b1 = b0 + block < r1 ? b0 + block : r1;
    int64_t xfirst, xlast;
    padded_rows(b0, b1, H, &xfirst, &xlast);
    const size_t xbytes = (size_t)((xlast - xfirst + 1) * P * C) * 4;
    a.Xe = (uint32_t *)buf;
    a.Xo = (uint32_t *)(buf + (xbytes + 63) / 64 * 64);
    a.G = (uint32_t *)(buf + 2 * ((xbytes + 63) / 64 * 64));
    a.xrow0 = xfirst;
    a.grow0 = b0;
    for (int64_t xr = xfirst; xr <= xlast; xr++) wg3_pack_x(&a, x, xr);
    for (int64_t rr = b0; rr < b1; rr++) wg3_pack_g(&a, g, rr, db);
    for (int64_t c0 = b0; c0 < b1; c0 += chunk) {
      const int64_t c1 = c0 + chunk < b1 ? c0 + chunk : b1;
      for (int kh = 0; kh < 3; kh++)
        for (int kw = 0; kw < 3; kw++)
          for (int64_t ci = 0; ci < C; ci += WG3_CI)
            for (int64_t co = 0; co < CO; co += 16 * WG3_COV)
              wg3_tile(&a, kh, kw, ci, co, c0, c1, dw + ((kh * 3 + kw) * C + ci) * CO + co);
    }
  }
}

/* bytes of one thread's packing buffer for blocks of `block` output rows of height H */
static size_t wg3_buf_bytes(const double *p, int64_t block) {
  const int64_t H = (int64_t)p[1], W = (int64_t)p[2], C = (int64_t)p[3], CO = (int64_t)p[6];
  const int64_t Q = (W + 1) / 2, P = Q + 1;
  const int64_t xrows = padded_rows_max(block, H);
  const size_t xbytes = ((size_t)(xrows * P * C) * 4 + 63) / 64 * 64;
  return 2 * xbytes + (size_t)(block * Q * CO) * 4 + 64;
}
#endif

/* 1 when conv_wg3 takes this weight gradient (p as conv_run); CONVDECK_BF16_OWN_WGRAD=0 (read
 * by cd_init) leaves every one to oneDNN. */
static int wg3_fits(const double *p) {
#ifdef WG3
  const int64_t C = (int64_t)p[3], CO = (int64_t)p[6];
  return !wg3_disabled && precision && p[4] == 3 && p[5] == 3 && p[7] == p[1] && p[8] == p[2] &&
         p[9] == 1 && p[10] == 1 && p[11] == 1 && p[12] == 1 && p[13] == 1 && p[14] == 1 &&
         p[15] == 1 && p[16] == 1 && (C == 32 || C == 64) && CO % 32 == 0 && p[2] >= 6;
#else
  (void)p;
  return 0;
#endif
}

static double wg3_calls = 0;
static uint8_t *wg3_buf = NULL;
static size_t wg3_len = 0;

/* The weight (and with kind 3, bias) gradient by the kernel above; t as conv_run. */
static int conv_wg3(int kind, const double *p, void *const t[4]) {
#ifdef WG3
  const int64_t N = (int64_t)p[0], H = (int64_t)p[1], W = (int64_t)p[2], C = (int64_t)p[3],
                CO = (int64_t)p[6], Q = (W + 1) / 2, R = N * H, nw = 9 * C * CO;
  int T = 1;
#ifdef _OPENMP
  T = omp_get_max_threads();
#endif
  if (T > R) T = (int)R;
  if (T > SPLIT_MAX) T = SPLIT_MAX;
  int64_t block = 65536 / (Q * CO); /* packed g of a block ~256 KiB */
  if (block < 1) block = 1;
  const size_t bb = (wg3_buf_bytes(p, block) + 63) / 64 * 64;
  const size_t wb = ((size_t)nw * sizeof(float) + 63) / 64 * 64;
  const size_t db_b = ((size_t)CO * sizeof(double) + 63) / 64 * 64, per = bb + wb + db_b;
  if (grow_buf(&wg3_buf, &wg3_len, per * (size_t)T) != 0) return -1;
  const wg3_t a = {N, H, W, C, CO, Q, Q + 1, 0, 0, NULL, NULL, NULL};
#pragma omp parallel for num_threads(T) schedule(static, 1)
  for (int i = 0; i < T; i++) {
    uint8_t *b = wg3_buf + per * (size_t)i;
    double *db = (double *)(b + bb + wb);
    memset(db, 0, sizeof(double) * (size_t)CO);
    wg3_rows(a, t[0], t[1], R * i / T, R * (i + 1) / T, block, b, (float *)(b + bb), db);
  }
  add_partials(t[2], wg3_buf, per, bb, T, nw);
  if (kind == 3) add_bias_partials(t[3], wg3_buf, per, bb + wb, T, CO);
  wg3_calls += 1;
  return 0;
#else
  (void)kind;
  (void)p;
  (void)t;
  snprintf(last_error, sizeof last_error, "no own bf16 weight-gradient kernel in this build");
  return -1;
#endif
}

/*
 * The float32 weight gradient of a 3x3, stride 1, 'same' convolution with 1-4 or a multiple of 8
 * input channels and a multiple of 32 output channels (every layer of the book model), on
 * AVX-512 FMAs. oneDNN 2.6's float32 kernel for these runs at 47-79% of its forward's speed on
 * these cores, and at 9% for a 3-channel first layer (see the README's speed section).
 *
 * dW[kh][kw][ci][co] = sum over the output pixels p of x[p shifted by (kh-1, kw-1)][ci] * g[p][co].
 * With 8 or more input channels a tile of 8 input by 32 output channels (16 accumulators) runs
 * over one tap's pixels, which are contiguous in each row of the NHWC tensors: no packing. With
 * 1-4 input channels (a first layer) a tile is one kernel row kh: the 3C values
 * x[ih][ow - 1 .. ow + 1][0 .. C) of a zero-padded copy of the input row against 32 output
 * channels (6C accumulators). Each tile sums a chunk of rows that stays in the L2 cache from
 * zero and adds that to the thread's gradient (partial sums: float32 error grows with the chunk,
 * not the batch). Threads take fixed row ranges into gradients of their own, added in thread
 * order afterwards (deterministic for a thread count); the bias gradient is summed per row in
 * float32 and across rows in double.
 */
#if defined(__x86_64__) && !defined(_MSC_VER) && (defined(__GNUC__) || defined(__clang__))
#define WF3 1
#define WF3_TARGET __attribute__((target("avx512f")))
#include <immintrin.h>

typedef struct {
  int64_t N, H, W, C, CO;
} wf3_t;

/* acc[i] += x[p][i] * g[p][0..31] over `count` pixels p, K values of x a pixel (xp, next pixel C
 * floats on) against 32 output channels (gp, next pixel CO floats on) */
WF3_TARGET static inline __attribute__((always_inline)) void wf3_pixels(
    __m512 acc[12][2], const float *xp, const float *gp, int64_t count, int64_t C, int64_t CO,
    const int K) {
  for (int64_t p = 0; p < count; p++) {
    const __m512 g0 = _mm512_loadu_ps(gp), g1 = _mm512_loadu_ps(gp + 16);
    for (int i = 0; i < K; i++) {
      const __m512 xv = _mm512_set1_ps(xp[i]);
      acc[i][0] = _mm512_fmadd_ps(xv, g0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(xv, g1, acc[i][1]);
    }
    xp += C;
    gp += CO;
  }
}

/* d[i][0..31] (row stride CO) += acc[i] for K rows */
WF3_TARGET static inline __attribute__((always_inline)) void wf3_store(float *d, int64_t CO,
                                                                       __m512 acc[12][2],
                                                                       const int K) {
  for (int i = 0; i < K; i++)
    for (int j = 0; j < 2; j++) {
      float *q = d + i * CO + 16 * j;
      _mm512_storeu_ps(q, _mm512_add_ps(_mm512_loadu_ps(q), acc[i][j]));
    }
}

/* d[ci][co] (row stride CO) += tap (kh, kw) over output rows [r0, r1), input channels
 * ci0..ci0+7, output channels co0..co0+31 (C a multiple of 8); g's row r0 - grow0 is row r0 */
WF3_TARGET static void wf3_tile(const wf3_t *a, const float *x, const float *g, int64_t grow0,
                                int kh, int kw, int64_t ci0, int64_t co0, int64_t r0, int64_t r1,
                                float *d) {
  const int64_t H = a->H, W = a->W, C = a->C, CO = a->CO;
  const int64_t w0 = kw == 0 ? 1 : 0, w1 = kw == 2 ? W - 1 : W;
  __m512 acc[12][2];
  for (int i = 0; i < 8; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  int64_t n = r0 / H, oh = r0 % H;
  for (int64_t rr = r0; rr < r1; rr++) {
    const int64_t ih = oh + kh - 1;
    if (ih >= 0 && ih < H) {
      const float *xp = x + (size_t)(((n * H + ih) * W + w0 + kw - 1) * C + ci0);
      const float *gp = g + (size_t)(((n * H + oh - grow0) * W + w0) * CO + co0);
      wf3_pixels(acc, xp, gp, w1 - w0, C, CO, 8);
    }
    if (++oh == H) oh = 0, n++;
  }
  wf3_store(d, CO, acc, 8);
}

/* d[kw][c][co] (rows of kernel row kh: stride CO, K = 3C of them) += kernel row kh over output
 * rows [r0, r1), output channels co0..co0+31; xpad: the padded input rows from xrow0, (W + 2) * C
 * floats each (see padded_rows) */
WF3_TARGET static inline __attribute__((always_inline)) void wf3_small(
    const wf3_t *a, const float *xpad, int64_t xrow0, const float *g, int64_t grow0, int kh,
    int64_t co0, int64_t r0, int64_t r1, float *d, const int K) {
  const int64_t H = a->H, W = a->W, C = a->C, CO = a->CO;
  __m512 acc[12][2];
  for (int i = 0; i < K; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  int64_t n = r0 / H, oh = r0 % H;
  for (int64_t rr = r0; rr < r1; rr++) {
    const float *xp = xpad + (size_t)((n * (H + 2) + oh + kh - xrow0) * (W + 2) * C);
    const float *gp = g + (size_t)((n * H + oh - grow0) * W * CO + co0);
    wf3_pixels(acc, xp, gp, W, C, CO, K);
    if (++oh == H) oh = 0, n++;
  }
  wf3_store(d, CO, acc, K);
}

WF3_TARGET static void wf3_tile_small(const wf3_t *a, const float *xpad, int64_t xrow0,
                                      const float *g, int64_t grow0, int kh, int64_t co0,
                                      int64_t r0, int64_t r1, float *d) {
  switch (a->C) {
    case 1: wf3_small(a, xpad, xrow0, g, grow0, kh, co0, r0, r1, d, 3); break;
    case 2: wf3_small(a, xpad, xrow0, g, grow0, kh, co0, r0, r1, d, 6); break;
    case 3: wf3_small(a, xpad, xrow0, g, grow0, kh, co0, r0, r1, d, 9); break;
    default: wf3_small(a, xpad, xrow0, g, grow0, kh, co0, r0, r1, d, 12); break;
  }
}

/* rows per chunk of wf3_rows: its x and g rows (~256 KiB) stay in the L2 cache across the tiles */
static int64_t wf3_chunk(int64_t W, int64_t C, int64_t CO) {
  const int64_t chunk = 65536 / (W * (C + CO));
  return chunk < 1 ? 1 : chunk;
}

/* output rows [r0, r1) of x and g into dw (HWIO, zeroed here) and db (double, added to); with y,
 * or with a packed g (bf bit 0; bit 1: y is packed, see cd_bf16_expand), g is first copied a
 * chunk at a time into gm (wf3_chunk rows), as float32, masked by y > 0; xpad: the padded rows
 * of a chunk (1-4 channels) */
WF3_TARGET static void wf3_rows(wf3_t a, const float *x, const void *g_in, const void *y, int bf,
                                int64_t r0, int64_t r1, float *xpad, float *gm, float *dw,
                                double *db) {
  const int64_t H = a.H, W = a.W, C = a.C, CO = a.CO, chunk = wf3_chunk(W, C, CO);
  memset(dw, 0, sizeof(float) * (size_t)(9 * C * CO));
  const float *g = g_in;
  for (int64_t c0 = r0; c0 < r1; c0 += chunk) {
    const int64_t c1 = c0 + chunk < r1 ? c0 + chunk : r1;
    int64_t grow0 = 0;
    if (y != NULL || (bf & 1)) {
      const int64_t n = (c1 - c0) * W * CO, at = c0 * W * CO;
      const int gbf = bf & 1, ybf = (bf & 2) != 0;
      if (y != NULL) {
        for (int64_t i = 0; i < n; i++)
          gm[i] = ld_act(y, at + i, ybf) > 0.f ? ld_act(g_in, at + i, gbf) : 0.f;
      } else {
        for (int64_t i = 0; i < n; i++) gm[i] = ld_act(g_in, at + i, gbf);
      }
      g = gm;
      grow0 = c0;
    }
    if (C % 8 == 0) {
      for (int kh = 0; kh < 3; kh++)
        for (int kw = 0; kw < 3; kw++)
          for (int64_t ci = 0; ci < C; ci += 8)
            for (int64_t co = 0; co < CO; co += 32)
              wf3_tile(&a, x, g, grow0, kh, kw, ci, co, c0, c1,
                       dw + ((kh * 3 + kw) * C + ci) * CO + co);
    } else {
      /* the zero-padded input rows the chunk's output rows read */
      int64_t xfirst, xlast;
      padded_rows(c0, c1, H, &xfirst, &xlast);
      const int64_t PW = (W + 2) * C;
      for (int64_t xr = xfirst; xr <= xlast; xr++) {
        float *row = xpad + (size_t)((xr - xfirst) * PW);
        const int64_t n = xr / (H + 2), ih = xr % (H + 2) - 1;
        memset(row, 0, sizeof(float) * (size_t)PW);
        if (ih >= 0 && ih < H)
          memcpy(row + C, x + (size_t)((n * H + ih) * W * C), sizeof(float) * (size_t)(W * C));
      }
      for (int kh = 0; kh < 3; kh++)
        for (int64_t co = 0; co < CO; co += 32)
          wf3_tile_small(&a, xpad, xfirst, g, grow0, kh, co, c0, c1, dw + kh * 3 * C * CO + co);
    }
    /* the bias gradient: each row's sum per channel in float32, then into db in double */
    for (int64_t rr = c0; rr < c1; rr++) {
      const float *row = g + (size_t)((rr - grow0) * W * CO);
      for (int64_t c = 0; c < CO; c += 16) {
        __m512 sum = _mm512_setzero_ps();
        for (int64_t w = 0; w < W; w++) sum = _mm512_add_ps(sum, _mm512_loadu_ps(row + w * CO + c));
        float f[16];
        _mm512_storeu_ps(f, sum);
        for (int k = 0; k < 16; k++) db[c + k] += f[k];
      }
    }
  }
}
#endif

/* 1 when conv_wf3 can compute this weight gradient (p as conv_run): its shapes, AVX-512 here (as
 * oneDNN sees it) and not CONVDECK_FP32_OWN_WGRAD=0 (both read once by cd_init). oneDNN's is as fast or
 * faster with 256 input channels and on rows under 24 pixels (8-16 px: 5-20% faster, its rows
 * are short for this tiling), slower on the wide rows of 28-224 px images. */
static int wf3_shape_fits(const double *p) {
#ifdef WF3
  const int64_t C = (int64_t)p[3], CO = (int64_t)p[6];
  return wf3_isa && !wf3_disabled && p[4] == 3 && p[5] == 3 && p[7] == p[1] && p[8] == p[2] &&
         p[9] == 1 && p[10] == 1 && p[11] == 1 && p[12] == 1 && p[13] == 1 && p[14] == 1 &&
         p[15] == 1 && p[16] == 1 &&
         ((C >= 1 && C <= 4) || (C % 8 == 0 && C <= 128 && p[2] >= 24)) && CO % 32 == 0 &&
         p[2] >= 2;
#else
  (void)p;
  return 0;
#endif
}

/* 1 when conv_wf3 takes this weight gradient in conv_run: float32 precision and its shapes */
static int wf3_fits(const double *p) { return !precision && wf3_shape_fits(p); }

static double wf3_calls = 0;
static uint8_t *wf3_buf = NULL;
static size_t wf3_len = 0;

/* The float32 weight (and with kind 3, bias) gradient by the kernel above; t as conv_run (x and
 * g in float32, or g packed: bf bit 0); with y (packed: bf bit 1), of g masked by y > 0 (g is
 * then dy), a chunk at a time. */
static int conv_wf3(int kind, const double *p, void *const t[4], const void *y, int bf) {
#ifdef WF3
  const int64_t N = (int64_t)p[0], H = (int64_t)p[1], W = (int64_t)p[2], C = (int64_t)p[3],
                CO = (int64_t)p[6], R = N * H, nw = 9 * C * CO, chunk = wf3_chunk(W, C, CO);
  int T = 1;
#ifdef _OPENMP
  T = omp_get_max_threads();
#endif
  if (T > R) T = (int)R;
  if (T > SPLIT_MAX) T = SPLIT_MAX;
  const int64_t xrows = padded_rows_max(chunk, H);
  const size_t pb = C % 8 == 0 ? 0 : ((size_t)(xrows * (W + 2) * C) * sizeof(float) + 63) / 64 * 64;
  const size_t gb =
      y == NULL && !(bf & 1) ? 0 : ((size_t)(chunk * W * CO) * sizeof(float) + 63) / 64 * 64;
  const size_t wb = ((size_t)nw * sizeof(float) + 63) / 64 * 64;
  const size_t db_b = ((size_t)CO * sizeof(double) + 63) / 64 * 64, per = pb + gb + wb + db_b;
  if (grow_buf(&wf3_buf, &wf3_len, per * (size_t)T) != 0) return -1;
  const wf3_t a = {N, H, W, C, CO};
#pragma omp parallel for num_threads(T) schedule(static, 1)
  for (int i = 0; i < T; i++) {
    uint8_t *b = wf3_buf + per * (size_t)i;
    double *db = (double *)(b + pb + gb + wb);
    memset(db, 0, sizeof(double) * (size_t)CO);
    wf3_rows(a, t[0], t[1], y, bf, R * i / T, R * (i + 1) / T, (float *)b, (float *)(b + pb),
             (float *)(b + pb + gb), db);
  }
  add_partials(t[2], wf3_buf, per, pb + gb, T, nw);
  if (kind == 3) add_bias_partials(t[3], wf3_buf, per, pb + gb + wb, T, CO);
  wf3_calls += 1;
  return 0;
#else
  (void)kind;
  (void)p;
  (void)t;
  (void)y;
  (void)bf;
  snprintf(last_error, sizeof last_error, "no own float32 weight-gradient kernel in this build");
  return -1;
#endif
}

/* How many weight gradients conv_wg3 and conv_wf3 computed (tests read it). */
static double cd_own_wgrads_unlocked(void) { return wg3_calls + wf3_calls; }

/* Which own weight-gradient kernels run here (this build, this CPU as oneDNN sees it, not turned
 * off by CONVDECK_FP32_OWN_WGRAD / CONVDECK_BF16_OWN_WGRAD): 1 the float32 one, 2 the bf16 one. */
static int cd_own_kernels_unlocked(void) {
  int k = 0;
#ifdef WF3
  if (!wf3_disabled && wf3_isa) k |= 1;
#endif
#ifdef WG3
  if (!wg3_disabled && has_native_bf16()) k |= 2;
#endif
  return k;
}

/*
 * A matmul primitive for key, created from the memory descriptors (bias may be NULL) and kept in
 * the cache; NULL with last_error set on failure.
 */
static entry_t *matmul_create(const double *key, int nkey, const dnnl_memory_desc_t *a,
                              const dnnl_memory_desc_t *b, const dnnl_memory_desc_t *bias,
                              const dnnl_memory_desc_t *c, const_dnnl_primitive_attr_t attr) {
  dnnl_matmul_desc_t md;
  dnnl_primitive_desc_t pd = NULL;
  entry_t *e = NULL;
  CHK(dnnl_matmul_desc_init(&md, a, b, bias, c));
  CHK(dnnl_primitive_desc_create(&pd, &md, attr, engine, NULL));
  e = slot(key, nkey);
  e->used = 1;
  e->md[0] = *a;
  e->md[1] = *b;
  if (bias != NULL) e->md[2] = *bias;
  e->md[3] = *c;
  e->scratch = pd_scratch(pd);
  CHK(dnnl_primitive_create(&e->prim, pd));
  created_total++;
  dnnl_primitive_desc_destroy(pd);
  return e;
fail:
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (e && e->prim == NULL) entry_free(e);
  return NULL;
}

/* Runs matmul entry e on the buffers (bias NULL for none) and waits; -1 with last_error set. */
static int matmul_run(entry_t *e, void *a, void *b, void *bias, void *c) {
  dnnl_memory_t m[4] = {0};
  if (ensure_scratch(e->scratch) != 0) return -1;
  if (mem(&m[0], &e->md[0], a) || mem(&m[1], &e->md[1], b) ||
      (bias != NULL && mem(&m[2], &e->md[2], bias)) || mem(&m[3], &e->md[3], c)) {
    snprintf(last_error, sizeof last_error, "dnnl_memory_create failed");
    goto fail;
  }
  {
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, m[0]}, {DNNL_ARG_WEIGHTS, m[1]},
                               {DNNL_ARG_DST, m[3]}, {DNNL_ARG_SCRATCHPAD, scratch_mem},
                               {DNNL_ARG_BIAS, m[2]}};
    CHK(dnnl_primitive_execute(e->prim, stream, bias != NULL ? 5 : 4, args));
    CHK(dnnl_stream_wait(stream));
  }
  mem_release(m, 4);
  return 0;
fail:
  mem_release(m, 4);
  return -1;
}

/*
 * bf16 weight gradients of convolutions with small output images (at most GEMM_WGRAD_PIXELS
 * pixels, e.g. the book model's last layers at 3x3 and 4x4 on 28-32 px inputs) as one matrix
 * product: dW[KH*KW*C, CO] = im2col(x)^T g, over all N*OH*OW output pixels at once, on oneDNN's
 * bf16 matmul (brgemm). oneDNN 2.6's bf16 convolution weight gradient parallelises over the
 * image and is slow on 9-16 pixels per image: the 64x3x3x256 -> 256 gradient of a 28x28
 * batch-64 step took 2.4-3.3 ms on 2 threads, 1.9-2.6 ms this way (a C program including this
 * file, best of 15, three rounds alternated; 64x3x3x128 -> 256 1.7 against 1.25, 16x4x4x256 ->
 * 256 1.44 against 1.15; level at 32x4x4). The im2col copy (bf16, zeros in the padding) is
 * N*OH*OW x KH*KW*C values: 2.7 MB for that layer. The bias gradient is g's column sums, in
 * double, in row order. CONVDECK_BF16_GEMM_WGRAD=0 leaves them to the convolution primitive.
 */
#define GEMM_WGRAD_PIXELS 16
static uint8_t *wgemm_buf = NULL;
static size_t wgemm_len = 0;
static double wgemm_calls = 0;

/* How many weight gradients conv_wgrad_gemm computed (tests read it). */
static double cd_gemm_wgrads_unlocked(void) { return wgemm_calls; }

/* 1 when conv_wgrad_gemm takes this bf16 weight gradient (p as conv_run) */
static int wgemm_fits(const double *p) {
  return precision && !wgemm_disabled && p[7] * p[8] <= GEMM_WGRAD_PIXELS;
}

static int conv_wgrad_gemm(int kind, const double *p, void *const t[4]) {
  const int64_t N = p[0], H = p[1], W = p[2], C = p[3], KH = p[4], KW = p[5], CO = p[6],
                OH = p[7], OW = p[8], SH = p[9], SW = p[10], DH = p[11], DW = p[12],
                PT = p[13], PL = p[14], M = N * OH * OW, K = KH * KW * C;
  double key[MAX_KEY] = {300, (double)M, (double)K, (double)CO};
  entry_t *e = lookup(key, 4);
  if (e == NULL) {
    dnnl_memory_desc_t a, b, c;
    dnnl_dims_t ad = {K, M}, bd = {M, CO}, cd = {K, CO};
    CHK(dnnl_memory_desc_init_by_tag(&a, 2, ad, dnnl_bf16, dnnl_ba)); /* im2col rows, transposed */
    CHK(dnnl_memory_desc_init_by_tag(&b, 2, bd, dnnl_bf16, dnnl_ab));
    CHK(dnnl_memory_desc_init_by_tag(&c, 2, cd, dnnl_f32, dnnl_ab)); /* HWIO */
    if ((e = matmul_create(key, 4, &a, &b, NULL, &c, NULL)) == NULL) return -1;
  }
  if (grow_buf(&wgemm_buf, &wgemm_len, sizeof(uint16_t) * (size_t)(M * K)) != 0) return -1;
  {
    const uint16_t *x = t[0];
    uint16_t *col = (uint16_t *)wgemm_buf;
#pragma omp parallel for schedule(static) if (M * K > 32768)
    for (int64_t q = 0; q < M; q++) {
      const int64_t n = q / (OH * OW), oh = q / OW % OH, ow = q % OW;
      uint16_t *row = col + q * K;
      for (int64_t kh = 0; kh < KH; kh++) {
        const int64_t ih = oh * SH - PT + kh * DH;
        for (int64_t kw = 0; kw < KW; kw++) {
          const int64_t iw = ow * SW - PL + kw * DW;
          uint16_t *d = row + (kh * KW + kw) * C;
          if (ih < 0 || ih >= H || iw < 0 || iw >= W)
            memset(d, 0, sizeof(uint16_t) * (size_t)C);
          else
            memcpy(d, x + ((n * H + ih) * W + iw) * C, sizeof(uint16_t) * (size_t)C);
        }
      }
    }
  }
  if (matmul_run(e, wgemm_buf, t[1], NULL, t[2]) != 0) return -1;
  if (kind == 3) {
    const uint16_t *g = t[1];
    float *db = t[3];
#pragma omp parallel for schedule(static) if (M * CO > 32768)
    for (int64_t co = 0; co < CO; co += 16) {
      double sum[16] = {0};
      const int64_t w = CO - co < 16 ? CO - co : 16;
      for (int64_t q = 0; q < M; q++)
        for (int64_t j = 0; j < w; j++) sum[j] += f32_of(g[q * CO + co + j]);
      for (int64_t j = 0; j < w; j++) db[co + j] = (float)sum[j];
    }
  }
  wgemm_calls += 1;
  return 0;
fail:
  return -1;
}

/* Below this many FLOPs a bf16 weight gradient runs on one thread, unsplit (see above;
 * CONVDECK_BF16_WGRAD_SPLIT_FLOPS sets it). */
static double bf16_wgrad_split_flops = 2e7;

static int conv_run(int kind, const double *p, void *const t[4]) {
  if (wino_fits(kind, p)) {
    const int rc = conv_wino(kind, p, t);
    if (rc != 1) return rc;
  }
  if (kind >= 2 && wg3_fits(p)) return conv_wg3(kind, p, t);
  if (kind >= 2 && wf3_fits(p)) return conv_wf3(kind, p, t, NULL, 0);
  if (kind >= 2 && wgemm_fits(p)) return conv_wgrad_gemm(kind, p, t);
#ifdef _OPENMP
  if (precision && kind >= 2 && conv_flops(p) < bf16_wgrad_serial_flops) {
    const int nt = omp_get_max_threads();
    const int64_t N = (int64_t)p[0];
    if (nt >= 2 && nt <= SPLIT_MAX && N % nt == 0 && conv_flops(p) >= bf16_wgrad_split_flops)
      return conv_wgrad_split(kind, p, t, nt);
    omp_set_num_threads(1);
    const int rc = conv_run_threads(kind, p, t, NULL);
    omp_set_num_threads(nt);
    return rc;
  }
#endif
  return conv_run_threads(kind, p, t, NULL);
}

/*
 * Convolution on tensors in the wasm heap (byte offsets). kind and p as conv_run;
 * o: kind 0 x w b y, 1 dy w dx, 2 x dy dw; kind 3: a forward (o as kind 0) whose input is kept
 * in bf16 for the weight gradient (xc_keep), its token written to o[4] (0: not kept). Kinds 0
 * and 3 read o[5] too, packed-tensor flags (bf16 precision only, see cd_bf16_expand): bit 0 x
 * is packed (read as it is: neither converted nor kept), bit 1 write y packed.
 */
static int64_t conv_in_len(const double *p) {
  return (int64_t)p[0] * (int64_t)p[1] * (int64_t)p[2] * (int64_t)p[3];
}

static int64_t conv_out_len(const double *p) {
  return (int64_t)p[0] * (int64_t)p[7] * (int64_t)p[8] * (int64_t)p[6];
}

static int cd_conv_unlocked(int kind, uint8_t *heap, const double *p, double *o) {
  const int keep = kind == 3;
  if (keep) {
    kind = 0;
    o[4] = 0;
  }
  if (kind < 0 || kind > 2) {
    snprintf(last_error, sizeof last_error, "unknown conv kind %d", kind);
    return -1;
  }
  const int flags = kind == 0 ? (int)o[5] : 0;
  if (flags != 0 && !precision) {
    snprintf(last_error, sizeof last_error, "a packed (bf16) tensor in float32 precision");
    return -1;
  }
  void *t[4] = {heap + (size_t)o[0], heap + (size_t)o[1], heap + (size_t)o[2], NULL};
  if (kind == 0) {
    t[2] = (int)p[19] ? heap + (size_t)o[2] : NULL;
    t[3] = heap + (size_t)o[3];
  }
  if (precision && !(flags & 1)) {
    /* the activation inputs in bf16 (weights: the primitive's own reorder converts them) */
    void *kept = keep ? xc_keep((size_t)o[0], t[0], conv_in_len(p), &o[4]) : NULL;
    t[0] = kept ? kept : to_bf16(0, t[0], kind == 1 ? conv_out_len(p) : conv_in_len(p));
    if (t[0] == NULL) return -1;
    if (kind == 2 && (t[1] = to_bf16(1, t[1], conv_out_len(p))) == NULL) return -1;
  }
  conv_out_bf16 = (flags & 2) != 0;
  const int rc = conv_run(kind, p, t);
  conv_out_bf16 = 0;
  return rc;
}

/*
 * The output gradient g = dy * (y > 0) (or dy, without the ReLU) of the last cd_conv_grad_w
 * call as the convolution takes it (float32, or bf16 in bf16 precision), kept for the
 * cd_conv_grad_x call that follows it (the same layer's input gradient, when wanted), with a
 * generation number that proves it is still that layer's. The buffer only grows (to the
 * largest layer's output gradient, which a step needs at its peak anyway) and is freed with the
 * primitive cache: freeing it once used, when over 64 MiB, and allocating it afresh for the next
 * big layer cost the page faults of up to 360 MB a step at 224x224 batch 32 (native float32
 * 12.33 / 12.38 img/s in the bench, 13.10 / 12.99 with the buffer kept, alternated runs).
 */
static void *gbuf = NULL;
static size_t gbuf_len = 0;

/* g into gbuf (masked by y > 0 when mask); returns gbuf, or NULL when out of memory. dy and y
 * may be packed (bf16, see cd_bf16_expand: dybf, ybf; bf16 precision only); a packed dy that
 * needs no mask is returned as it is (the caller must then not take it for gbuf). */
static void *grad_out(const void *dy, const void *y, int64_t n, int mask, int dybf, int ybf) {
  if (dybf && !mask) return (void *)dy;
  const size_t bytes = (precision ? sizeof(uint16_t) : sizeof(float)) * (size_t)n;
  if (gbuf_len < bytes) {
    free(gbuf);
    gbuf = aligned_alloc(64, (bytes + 63) / 64 * 64);
    gbuf_len = gbuf ? bytes : 0;
  }
  if (gbuf == NULL) {
    snprintf(last_error, sizeof last_error, "out of memory for a conv gradient");
    return NULL;
  }
  if (precision && dybf) {
    /* masked bf16 from bf16: the same bits where y > 0 */
    uint16_t *g = gbuf;
    const uint16_t *d = dy;
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) g[i] = ld_act(y, i, ybf) > 0.f ? d[i] : 0;
  } else if (precision) {
    uint16_t *g = gbuf;
    const float *d = dy;
    if (mask) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
      for (int64_t i = 0; i < n; i++) g[i] = bf16_of(ld_act(y, i, ybf) > 0.f ? d[i] : 0.f);
    } else {
#pragma omp parallel for simd schedule(static) if (n > 32768)
      for (int64_t i = 0; i < n; i++) g[i] = bf16_of(d[i]);
    }
  } else {
    float *g = gbuf;
    const float *d = dy, *yf = y;
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) g[i] = yf[i] > 0.f ? d[i] : 0.f;
  }
  return gbuf;
}

static void gbuf_free(void) {
  free(gbuf);
  gbuf = NULL;
  gbuf_len = 0;
}

/*
 * Weight and bias gradients of a convolution with bias and ReLU (act 1) or no activation
 * (act 0): g = act ? dy * (y > 0) : dy, then dw and db in one oneDNN backward-weights
 * primitive. p: as conv_run (act = p[17]); o: dy y x dw db token direct flags (token: of x's
 * kept bf16 copy, see xc_keep, 0 for none; direct: see below; flags, bf16 precision only: bit 0
 * dy, bit 1 y, bit 2 x is packed, see cd_bf16_expand). Returns the generation number of the
 * kept g (> 0; 0 when g is dy itself: float32 without the ReLU, or a packed dy without a
 * mask), or -1 on failure.
 */
static double cd_conv_grad_w_unlocked(uint8_t *heap, const double *p, const double *o) {
  const int act = (int)p[17], flags = (int)o[7];
  dy_last = NULL;
  void *dy = heap + (size_t)o[0];
  const void *y = heap + (size_t)o[1];
  void *g = dy;
  if (act != 0 && act != 1) {
    snprintf(last_error, sizeof last_error, "conv gradient: activation %d unsupported", act);
    return -1;
  }
  if (flags != 0 && !precision) {
    snprintf(last_error, sizeof last_error, "a packed (bf16) tensor in float32 precision");
    return -1;
  }
  /* o[6] set: no input gradient is expected (the layer's input was not computed under the tape,
   * e.g. a model's first layer): the own float32 kernel masks dy a chunk at a time instead of
   * writing the whole masked copy an input gradient would share; in bf16 precision too with 1-4
   * float32 input channels (float32 arithmetic there: more accurate, and faster than bf16's).
   * Generation 0: an input gradient asked for after all recomputes the mask. */
  if (o[6] != 0 && !(flags & 4) && wf3_shape_fits(p) && !wino_fits(3, p) &&
      (precision ? p[3] <= 4 : act == 1)) {
    void *t[4] = {heap + (size_t)o[2], dy, heap + (size_t)o[3], heap + (size_t)o[4]};
    return conv_wf3(3, p, t, act == 1 ? y : NULL, flags & 3) != 0 ? -1 : 0;
  }
  const int kept = act == 1 || precision;
  if (kept) {
    g = grad_out(dy, y, conv_out_len(p), act == 1, flags & 1, (flags & 2) != 0);
    if (g == NULL) return -1;
    if (g != dy) gbuf_gen += 1;
  }
  void *x = heap + (size_t)o[2];
  if (precision && !(flags & 4)) {
    void *kept = xc_find(o[5], (size_t)o[2], conv_in_len(p));
    if ((x = kept ? kept : to_bf16(0, x, conv_in_len(p))) == NULL) return -1;
  }
  void *t[4] = {x, g, heap + (size_t)o[3], heap + (size_t)o[4]};
  const double gen = kept && g != dy ? gbuf_gen : 0;
  if (gen == 0) dy_last = dy;
  conv_g_gen = gen != 0 ? gen : (dy_token -= 1);
  const int rc = conv_run(3, p, t);
  conv_g_gen = 0;
  if (rc != 0) return -1;
  return gen;
}

/*
 * Input gradient of the same convolution: backward data from g, the gradient kept by
 * cd_conv_grad_w when `gen` is still current, else recomputed from dy and y.
 * p: as conv_run; o: dy y w dx flags (bf16 precision only: bit 0 dy, bit 1 y is packed, bit 2
 * write dx packed; see cd_bf16_expand).
 */
static int cd_conv_grad_x_unlocked(uint8_t *heap, const double *p, double gen, const double *o) {
  const int act = (int)p[17], flags = (int)o[4];
  void *dy = heap + (size_t)o[0];
  const void *y = heap + (size_t)o[1];
  void *g = dy;
  if (flags != 0 && !precision) {
    snprintf(last_error, sizeof last_error, "a packed (bf16) tensor in float32 precision");
    return -1;
  }
  if (act == 1 || precision) {
    if (gen != gbuf_gen || gen <= 0 || gbuf == NULL) {
      g = grad_out(dy, y, conv_out_len(p), act == 1, flags & 1, (flags & 2) != 0);
      if (g == NULL) return -1;
      if (g != dy) gbuf_gen += 1;
    } else {
      g = gbuf;
    }
  }
  void *t[4] = {g, heap + (size_t)o[2], heap + (size_t)o[3], NULL};
  conv_out_bf16 = (flags & 4) != 0;
  conv_g_gen = g == gbuf ? gbuf_gen : g == dy_last ? dy_token : 0;
  dy_last = NULL;
  const int rc = conv_run(1, p, t);
  conv_out_bf16 = 0;
  conv_g_gen = 0;
  return rc;
}

/*
 * Batched matmul C[b] = act(op(A[b]) op(B[b]) + bias), row-major.
 * p: batch M K N transA transB batchA batchB hasBias act alpha
 * o: a b bias c
 */
static int cd_matmul_unlocked(uint8_t *heap, const double *p, const double *o) {
  double key[MAX_KEY];
  const int NP = 11;
  key[0] = 100 + precision;
  memcpy(key + 1, p, sizeof(double) * NP);
  dnnl_primitive_attr_t attr = NULL;
  entry_t *e = lookup(key, NP + 1);
  const dnnl_dim_t B = p[0], M = p[1], K = p[2], Nn = p[3];
  const int ta = (int)p[4], tb = (int)p[5], has_bias = (int)p[8];
  const dnnl_dim_t BA = p[6], BB = p[7];
  if (e == NULL) {
    dnnl_memory_desc_t a, b, bias, c;
    dnnl_dims_t ad = {BA, M, K}, bdim = {BB, K, Nn}, cd = {B, M, Nn}, biasd = {1, 1, Nn};
    dnnl_dims_t as = {M * K, ta ? 1 : K, ta ? M : 1};
    dnnl_dims_t bs = {K * Nn, tb ? 1 : Nn, tb ? K : 1};
    const dnnl_data_type_t lo = precision ? dnnl_bf16 : dnnl_f32;
    CHK(dnnl_memory_desc_init_by_strides(&a, 3, ad, lo, as));
    CHK(dnnl_memory_desc_init_by_strides(&b, 3, bdim, lo, bs));
    CHK(dnnl_memory_desc_init_by_tag(&c, 3, cd, dnnl_f32, dnnl_abc));
    CHK(dnnl_memory_desc_init_by_tag(&bias, 3, biasd, dnnl_f32, dnnl_abc));
    attr = make_attr((int)p[9], (float)p[10]);
    e = matmul_create(key, NP + 1, &a, &b, has_bias ? &bias : NULL, &c, attr);
    dnnl_primitive_attr_destroy(attr);
    attr = NULL;
    if (e == NULL) return -1;
  }
  void *pa = heap + (size_t)o[0], *pb = heap + (size_t)o[1];
  if (precision) {
    /* both operands in bf16, element for element (same strides) */
    if ((pa = to_bf16(0, pa, BA * M * K)) == NULL || (pb = to_bf16(1, pb, BB * K * Nn)) == NULL)
      return -1;
  }
  return matmul_run(e, pa, pb, has_bias ? heap + (size_t)o[2] : NULL, heap + (size_t)o[3]);
fail:
  if (attr) dnnl_primitive_attr_destroy(attr);
  return -1;
}

/*
 * Max pooling forward, NHWC. p: N H W C KH KW OH OW sH sW pT pL pB pR; o: x y packed (packed:
 * x is a packed tensor, y is written packed, see cd_bf16_expand; bf16 precision only)
 */
static int cd_maxpool_unlocked(uint8_t *heap, const double *p, const double *o) {
  double key[MAX_KEY];
  const int NP = 14, packed = o[2] != 0;
  if (packed && !precision) {
    snprintf(last_error, sizeof last_error, "a packed (bf16) tensor in float32 precision");
    return -1;
  }
  key[0] = 200 + packed;
  memcpy(key + 1, p, sizeof(double) * NP);
  dnnl_primitive_desc_t pd = NULL;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_memory_t m[2] = {0};
  entry_t *e = lookup(key, NP + 1);
  if (e == NULL) {
    dnnl_memory_desc_t src, dst;
    dnnl_dims_t sd = {(dnnl_dim_t)p[0], (dnnl_dim_t)p[3], (dnnl_dim_t)p[1], (dnnl_dim_t)p[2]};
    dnnl_dims_t dd = {(dnnl_dim_t)p[0], (dnnl_dim_t)p[3], (dnnl_dim_t)p[6], (dnnl_dim_t)p[7]};
    dnnl_dims_t k = {(dnnl_dim_t)p[4], (dnnl_dim_t)p[5]}, s = {(dnnl_dim_t)p[8], (dnnl_dim_t)p[9]};
    dnnl_dims_t dil = {0, 0}, pl = {(dnnl_dim_t)p[10], (dnnl_dim_t)p[11]},
                pr = {(dnnl_dim_t)p[12], (dnnl_dim_t)p[13]};
    dnnl_pooling_v2_desc_t pdsc;
    const dnnl_data_type_t dt = packed ? dnnl_bf16 : dnnl_f32;
    CHK(dnnl_memory_desc_init_by_tag(&src, 4, sd, dt, dnnl_nhwc));
    CHK(dnnl_memory_desc_init_by_tag(&dst, 4, dd, dt, dnnl_nhwc));
    CHK(dnnl_pooling_v2_forward_desc_init(&pdsc, dnnl_forward_inference, dnnl_pooling_max, &src,
                                          &dst, s, k, dil, pl, pr));
    attr = make_attr(0, 0.f);
    CHK(dnnl_primitive_desc_create(&pd, &pdsc, attr, engine, NULL));
    e = slot(key, NP + 1);
    e->used = 1;
    e->md[0] = src;
    e->md[3] = dst;
    e->scratch = pd_scratch(pd);
    CHK(dnnl_primitive_create(&e->prim, pd));
    created_total++;
    dnnl_primitive_desc_destroy(pd);
    pd = NULL;
    dnnl_primitive_attr_destroy(attr);
    attr = NULL;
  }
  if (ensure_scratch(e->scratch) != 0) goto fail;
  if (mem(&m[0], &e->md[0], heap + (size_t)o[0]) || mem(&m[1], &e->md[3], heap + (size_t)o[1])) {
    snprintf(last_error, sizeof last_error, "dnnl_memory_create failed");
    goto fail;
  }
  {
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_SRC, m[0]}, {DNNL_ARG_DST, m[1]}, {DNNL_ARG_SCRATCHPAD, scratch_mem}};
    CHK(dnnl_primitive_execute(e->prim, stream, 3, args));
    CHK(dnnl_stream_wait(stream));
  }
  mem_release(m, 2);
  return 0;
fail:
  mem_release(m, 2);
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (attr) dnnl_primitive_attr_destroy(attr);
  if (e && e->prim == NULL) entry_free(e);
  return -1;
}

/*
 * cd_maxpool_grad's 2x2, stride-2 windows (every pool of the book's model): each input is in at
 * most one window, so every dx is written once, with no zeroing pass and no read-modify-write
 * (the same numbers: 0 + dy is dy). Rows and columns no window covers (odd sizes) are zero.
 * One function per element type T of dy, x and dx (float32, or all three packed bf16, see
 * cd_bf16_expand), so that the compiler vectorizes each; XF(v) is an x value as float32, G(v)
 * dy's value v as dx stores it after "0 +" (-0 becomes +0). d: N H W C OH OW.
 */
#define POOL2_GRAD(name, T, XF, G)                                                            \
  static void name(const T *restrict dy, const T *restrict x, T *restrict dx, const int64_t *d, \
                   float floor_) {                                                            \
    const int64_t N = d[0], H = d[1], W = d[2], C = d[3], OH = d[4], OW = d[5];                 \
    const int64_t covered = 2 * OH == H && 2 * OW == W;                                       \
    _Pragma("omp parallel for collapse(2) schedule(static) if (N * H * W * C > 32768)")        \
    for (int64_t n = 0; n < N; n++) {                                                         \
      for (int64_t oh = 0; oh < OH; oh++) {                                                   \
        const T *xn = x + n * H * W * C;                                                      \
        T *dxn = dx + n * H * W * C;                                                          \
        if (!covered && oh == 0) {                                                            \
          for (int64_t ih = 2 * OH; ih < H; ih++)                                             \
            memset(dxn + ih * W * C, 0, sizeof(T) * (size_t)(W * C));                         \
        }                                                                                     \
        for (int64_t ow = 0; ow < OW; ow++) {                                                 \
          const int64_t i00 = ((2 * oh) * W + 2 * ow) * C, i01 = i00 + C, i10 = i00 + W * C, \
                        i11 = i10 + C;                                                        \
          const T *dyp = dy + ((n * OH + oh) * OW + ow) * C;                                  \
          _Pragma("omp simd")                                                                 \
          for (int64_t c = 0; c < C; c++) {                                                   \
            const float a = XF(xn[i00 + c]), b = XF(xn[i01 + c]), e = XF(xn[i10 + c]),        \
                        f = XF(xn[i11 + c]);                                                  \
            float best = -INFINITY;                                                           \
            int k = -1;                                                                       \
            if (a > best) { best = a; k = 0; }                                                \
            if (b > best) { best = b; k = 1; }                                                \
            if (e > best) { best = e; k = 2; }                                                \
            if (f > best) { best = f; k = 3; }                                                \
            /* k < 0 leaves best at -inf */                                                   \
            const T g = best > floor_ ? G(dyp[c]) : 0;                                        \
            dxn[i00 + c] = k == 0 ? g : 0;                                                    \
            dxn[i01 + c] = k == 1 ? g : 0;                                                    \
            dxn[i10 + c] = k == 2 ? g : 0;                                                    \
            dxn[i11 + c] = k == 3 ? g : 0;                                                    \
          }                                                                                   \
        }                                                                                     \
        if (!covered && W > 2 * OW) {                                                         \
          for (int64_t r = 2 * oh; r < 2 * oh + 2; r++)                                       \
            memset(dxn + (r * W + 2 * OW) * C, 0, sizeof(T) * (size_t)((W - 2 * OW) * C));    \
        }                                                                                     \
      }                                                                                       \
    }                                                                                         \
  }
#define POOL2_F32_X(v) (v)
#define POOL2_F32_G(v) (0.f + (v))
#define POOL2_BF16_G(v) ((uint16_t)((v) == 0x8000u ? 0 : (v)))
POOL2_GRAD(pool2_grad_f32, float, POOL2_F32_X, POOL2_F32_G)
POOL2_GRAD(pool2_grad_bf16, uint16_t, f32_of, POOL2_BF16_G)

/*
 * Max pooling gradient, NHWC, with tfjs's semantics: each output's gradient goes to the first
 * maximum of its window in row-major order. With relu (p[14] = 1) only maxima above zero get
 * it: the gradient of maxPool(relu(x)), which for an x that is already a ReLU's output is the
 * ReLU layer's masked gradient dy * (x > 0) in the same pass.
 * p: N H W C KH KW OH OW sH sW pT pL pB pR relu; o: dy x dx flags (bf16 precision only: bit 0
 * dy, bit 1 x is packed, bit 2 write dx packed, see cd_bf16_expand). Returns 1 when dx was
 * written packed (2x2, stride-2 windows only), 0 when in float32, -1 on failure.
 */
static int cd_maxpool_grad_unlocked(uint8_t *heap, const double *p, const double *o) {
  const int64_t N = p[0], H = p[1], W = p[2], C = p[3], KH = p[4], KW = p[5], OH = p[6],
                OW = p[7], SH = p[8], SW = p[9], PT = p[10], PL = p[11];
  const float floor_ = p[14] != 0 ? 0.f : -INFINITY; /* a maximum must exceed it */
  const int flags = (int)o[3], dyb = flags & 1, xb = (flags & 2) != 0;
  if (flags != 0 && !precision) {
    snprintf(last_error, sizeof last_error, "a packed (bf16) tensor in float32 precision");
    return -1;
  }
  const void *dyv = heap + (size_t)o[0], *xv = heap + (size_t)o[1];
  void *dxv = heap + (size_t)o[2];
  if (KH == 2 && KW == 2 && SH == 2 && SW == 2 && PT == 0 && PL == 0 && 2 * OH <= H &&
      2 * OW <= W) {
    const int64_t d[6] = {N, H, W, C, OH, OW};
    if ((flags & 7) == 7) {
      pool2_grad_bf16(dyv, xv, dxv, d, floor_);
      return 1;
    }
    if ((flags & 3) == 0) {
      pool2_grad_f32(dyv, xv, dxv, d, floor_);
      return 0;
    }
    /* a packed dy or x with float32 ones (not a fused layer's chain): the general path */
  }
  float *dx = dxv;
  int fail = 0;
#pragma omp parallel
  {
    float *best = malloc(sizeof(float) * C);
    int64_t *bi = malloc(sizeof(int64_t) * C);
    if (!best || !bi) fail = 1;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; n++) {
      if (!best || !bi) continue;
      float *dxn = dx + n * H * W * C;
      const int64_t xn = n * H * W * C;
      memset(dxn, 0, sizeof(float) * H * W * C);
      for (int64_t oh = 0; oh < OH; oh++) {
        for (int64_t ow = 0; ow < OW; ow++) {
          for (int64_t c = 0; c < C; c++) {
            best[c] = -INFINITY;
            bi[c] = -1;
          }
          for (int64_t kh = 0; kh < KH; kh++) {
            const int64_t ih = oh * SH - PT + kh;
            if (ih < 0 || ih >= H) continue;
            for (int64_t kw = 0; kw < KW; kw++) {
              const int64_t iw = ow * SW - PL + kw;
              if (iw < 0 || iw >= W) continue;
              const int64_t base = (ih * W + iw) * C;
              for (int64_t c = 0; c < C; c++) {
                const float v = ld_act(xv, xn + base + c, xb);
                if (v > best[c]) {
                  best[c] = v;
                  bi[c] = base + c;
                }
              }
            }
          }
          const int64_t iy = ((n * OH + oh) * OW + ow) * C;
          for (int64_t c = 0; c < C; c++)
            if (bi[c] >= 0 && best[c] > floor_) dxn[bi[c]] += ld_act(dyv, iy + c, dyb);
        }
      }
    }
    free(best);
    free(bi);
  }
  if (fail) {
    snprintf(last_error, sizeof last_error, "out of memory in cd_maxpool_grad");
    return -1;
  }
  return 0;
}

/*
 * Element-wise unary ops, multi-threaded. op 0: relu (x < 0 ? 0 : x), 1: step (x > 0 ? 1 :
 * alpha, NaN stays NaN). o: x y
 */
static int cd_unary_unlocked(int op, uint8_t *heap, double n, double alpha, const double *o) {
  const float *x = (const float *)(heap + (size_t)o[0]);
  float *y = (float *)(heap + (size_t)o[1]);
  const int64_t len = (int64_t)n;
  const float a = (float)alpha;
  if (op == 0) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < len; i++) y[i] = x[i] < 0.f ? 0.f : x[i];
  } else if (op == 1) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < len; i++) y[i] = x[i] > 0.f ? 1.f : (x[i] != x[i] ? x[i] : a);
  } else {
    snprintf(last_error, sizeof last_error, "unknown unary op %d", op);
    return -1;
  }
  return 0;
}

/*
 * Element-wise binary ops on float32, `b` either the same length as `a` or repeated along it
 * (length nb dividing n: a bias over the last axis). op 0: add, 1: multiply. o: a b y
 */
static int cd_binary_unlocked(int op, uint8_t *heap, double n, double nb, const double *o) {
  const float *a = (const float *)(heap + (size_t)o[0]);
  const float *b = (const float *)(heap + (size_t)o[1]);
  float *y = (float *)(heap + (size_t)o[2]);
  const int64_t len = (int64_t)n, lb = (int64_t)nb;
  if (op != 0 && op != 1) {
    snprintf(last_error, sizeof last_error, "unknown binary op %d", op);
    return -1;
  }
  if (lb == len) {
    if (op == 0) {
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < len; i++) y[i] = a[i] + b[i];
    } else {
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < len; i++) y[i] = a[i] * b[i];
    }
  } else {
    const int64_t rows = len / lb;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const float *ar = a + r * lb;
      float *yr = y + r * lb;
      if (op == 0) {
#pragma omp simd
        for (int64_t c = 0; c < lb; c++) yr[c] = ar[c] + b[c];
      } else {
#pragma omp simd
        for (int64_t c = 0; c < lb; c++) yr[c] = ar[c] * b[c];
      }
    }
  }
  return 0;
}

/*
 * Sums (or means) over one block of contiguous axes: x viewed as outer x rows x cols,
 * y[k][c] = (sum over r of x[k][r][c]) / count. o: x y outer count (count 1: Sum; the number
 * of values reduced: Mean). tfjs's Sum over leading axes (outer 1, count 1) adds in double, as
 * before. Every other case (a global average pooling: Mean over H and W of NHWC, outer N, rows
 * H*W, cols C) adds each output's values in float32, in row order, and divides in float32:
 * wasm's Mean to the bit (it sums a transposed copy the same way), so training runs keep their
 * numbers.
 */
static int cd_sum_rows_unlocked(uint8_t *heap, double rows_, double cols_, const double *o) {
  const float *x = (const float *)(heap + (size_t)o[0]);
  float *y = (float *)(heap + (size_t)o[1]);
  const int64_t rows = (int64_t)rows_, cols = (int64_t)cols_, outer = (int64_t)o[2];
  const double count = o[3];
  int nt = 1;
#ifdef _OPENMP
  nt = omp_get_max_threads();
#endif
  if (outer > 1 || count != 1) {
    /* one unit per outer index and block of 64 columns, each on one thread */
    const int64_t CB = 64, ncb = (cols + CB - 1) / CB;
    const float div = (float)count;
#pragma omp parallel for schedule(static) num_threads(nt) if (outer * rows * cols > 32768)
    for (int64_t u = 0; u < outer * ncb; u++) {
      const int64_t k = u / ncb, c0 = (u % ncb) * CB, c1 = c0 + CB < cols ? c0 + CB : cols;
      float acc[64];
      for (int64_t c = 0; c < c1 - c0; c++) acc[c] = 0.f;
      const float *xk = x + k * rows * cols + c0;
      for (int64_t r = 0; r < rows; r++) {
        const float *xr = xk + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < c1 - c0; c++) acc[c] += xr[c];
      }
      for (int64_t c = 0; c < c1 - c0; c++) y[k * cols + c0 + c] = count == 1 ? acc[c] : acc[c] / div;
    }
    return 0;
  }
  double *part = calloc((size_t)(nt * cols), sizeof(double));
  if (!part) {
    snprintf(last_error, sizeof last_error, "out of memory in cd_sum_rows");
    return -1;
  }
#pragma omp parallel num_threads(nt)
  {
    int t = 0;
#ifdef _OPENMP
    t = omp_get_thread_num();
#endif
    double *acc = part + (int64_t)t * cols;
    if (cols == 1) {
      double s = 0;
#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; r++) s += x[r];
      acc[0] = s;
    } else {
#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; c++) acc[c] += xr[c];
      }
    }
  }
  for (int64_t c = 0; c < cols; c++) {
    double s = 0;
    for (int t = 0; t < nt; t++) s += part[(int64_t)t * cols + c];
    y[c] = (float)s;
  }
  free(part);
  return 0;
}

/*
 * Adam, one step over many variables, with tfjs's AdamOptimizer's float32 arithmetic operation
 * for operation (the shim is built with -ffp-contract=off: no fused multiply-adds, so every
 * product and sum is rounded as tfjs rounds it):
 *   m' = m * b1 + g * (1 - b1)            v' = v * b2 + (g * g) * (1 - b2)
 *   w' = (m' / (1 - acc1)) / (sqrt(v' / (1 - acc2)) + eps) * -lr + w
 *   acc1' = acc1 * b1                     acc2' = acc2 * b2
 * p: lr b1 b2 eps oneMinusB1 oneMinusB2 nvars (each rounded to float32 as tfjs's scalars are)
 * o: acc1 acc2 acc1' acc2', then per variable: w g m v w' m' v' size (w' may be w, m' m and v' v:
 *   each element is read before it is written)
 */
static int cd_adam_unlocked(uint8_t *heap, const double *p, const double *o) {
  const float nlr = (float)(-p[0]), b1 = (float)p[1], b2 = (float)p[2], eps = (float)p[3];
  const float c1 = (float)p[4], c2 = (float)p[5];
  const int nv = (int)p[6];
  const float acc1 = *(const float *)(heap + (size_t)o[0]);
  const float acc2 = *(const float *)(heap + (size_t)o[1]);
  const float oma1 = 1.f - acc1, oma2 = 1.f - acc2;
  int64_t total = 0;
  for (int k = 0; k < nv; k++) total += (int64_t)o[4 + 8 * k + 7];
#pragma omp parallel if (total > 32768)
  for (int k = 0; k < nv; k++) {
    const double *q = o + 4 + 8 * k;
    const float *w = (const float *)(heap + (size_t)q[0]);
    const float *g = (const float *)(heap + (size_t)q[1]);
    const float *m = (const float *)(heap + (size_t)q[2]);
    const float *v = (const float *)(heap + (size_t)q[3]);
    float *w2 = (float *)(heap + (size_t)q[4]);
    float *m2 = (float *)(heap + (size_t)q[5]);
    float *v2 = (float *)(heap + (size_t)q[6]);
    const int64_t n = (int64_t)q[7];
#pragma omp for simd schedule(static)
    for (int64_t i = 0; i < n; i++) {
      const float gi = g[i];
      const float mi = m[i] * b1 + gi * c1;
      const float vi = v[i] * b2 + (gi * gi) * c2;
      m2[i] = mi;
      v2[i] = vi;
      const float mh = mi / oma1, vh = vi / oma2;
      w2[i] = (mh / (sqrtf(vh) + eps)) * nlr + w[i];
    }
  }
  *(float *)(heap + (size_t)o[2]) = acc1 * b1;
  *(float *)(heap + (size_t)o[3]) = acc2 * b2;
  return 0;
}

/* One process, one shim: tfjs backends in several threads (Deno workers, test runners) share
 * the engine, the primitive cache and the scratch memory, so every entry point runs under one
 * recursive lock. Calls are short and made one at a time by a trainer, so it costs nothing. */
#ifdef _WIN32
#include <windows.h>
static CRITICAL_SECTION cd_lock_cs;
static INIT_ONCE cd_lock_once = INIT_ONCE_STATIC_INIT;
static BOOL CALLBACK cd_lock_init(PINIT_ONCE o, PVOID p, PVOID *c) {
  (void)o; (void)p; (void)c;
  InitializeCriticalSection(&cd_lock_cs);
  return TRUE;
}
static void cd_lock_(void) {
  InitOnceExecuteOnce(&cd_lock_once, cd_lock_init, NULL, NULL);
  EnterCriticalSection(&cd_lock_cs);
}
static void cd_unlock_(void) { LeaveCriticalSection(&cd_lock_cs); }
#else
#include <pthread.h>
static pthread_mutex_t cd_lock_mu;
static pthread_once_t cd_lock_once = PTHREAD_ONCE_INIT;
static void cd_lock_init(void) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&cd_lock_mu, &a);
  pthread_mutexattr_destroy(&a);
}
static void cd_lock_(void) {
  pthread_once(&cd_lock_once, cd_lock_init);
  pthread_mutex_lock(&cd_lock_mu);
}
static void cd_unlock_(void) { pthread_mutex_unlock(&cd_lock_mu); }
#endif

const char * cd_last_error(void) {
  cd_lock_();
  const char * r = cd_last_error_unlocked();
  cd_unlock_();
  return r;
}

int cd_version(void) {
  cd_lock_();
  int r = cd_version_unlocked();
  cd_unlock_();
  return r;
}

int cd_set_threads(int n) {
  cd_lock_();
  int r = cd_set_threads_unlocked(n);
  cd_unlock_();
  return r;
}

int cd_cache_clear(void) {
  cd_lock_();
  int r = cd_cache_clear_unlocked();
  cd_unlock_();
  return r;
}

int cd_cache_size(void) {
  cd_lock_();
  int r = cd_cache_size_unlocked();
  cd_unlock_();
  return r;
}

double cd_created_total(void) {
  cd_lock_();
  double r = cd_created_total_unlocked();
  cd_unlock_();
  return r;
}

double cd_scratch_bytes(void) {
  cd_lock_();
  double r = cd_scratch_bytes_unlocked();
  cd_unlock_();
  return r;
}

int cd_init(int capacity, int threads) {
  cd_lock_();
  int r = cd_init_unlocked(capacity, threads);
  cd_unlock_();
  return r;
}

double cd_live_objects(void) {
  cd_lock_();
  double r = cd_live_objects_unlocked();
  cd_unlock_();
  return r;
}

int cd_conv(int kind, uint8_t *heap, const double *p, double *o) {
  cd_lock_();
  int r = cd_conv_unlocked(kind, heap, p, o);
  cd_unlock_();
  return r;
}

double cd_conv_grad_w(uint8_t *heap, const double *p, const double *o) {
  cd_lock_();
  double r = cd_conv_grad_w_unlocked(heap, p, o);
  cd_unlock_();
  return r;
}

int cd_conv_grad_x(uint8_t *heap, const double *p, double gen, const double *o) {
  cd_lock_();
  int r = cd_conv_grad_x_unlocked(heap, p, gen, o);
  cd_unlock_();
  return r;
}

int cd_matmul(uint8_t *heap, const double *p, const double *o) {
  cd_lock_();
  int r = cd_matmul_unlocked(heap, p, o);
  cd_unlock_();
  return r;
}

int cd_maxpool(uint8_t *heap, const double *p, const double *o) {
  cd_lock_();
  int r = cd_maxpool_unlocked(heap, p, o);
  cd_unlock_();
  return r;
}

int cd_maxpool_grad(uint8_t *heap, const double *p, const double *o) {
  cd_lock_();
  int r = cd_maxpool_grad_unlocked(heap, p, o);
  cd_unlock_();
  return r;
}

int cd_unary(int op, uint8_t *heap, double n, double alpha, const double *o) {
  cd_lock_();
  int r = cd_unary_unlocked(op, heap, n, alpha, o);
  cd_unlock_();
  return r;
}

int cd_binary(int op, uint8_t *heap, double n, double nb, const double *o) {
  cd_lock_();
  int r = cd_binary_unlocked(op, heap, n, nb, o);
  cd_unlock_();
  return r;
}

int cd_sum_rows(uint8_t *heap, double rows_, double cols_, const double *o) {
  cd_lock_();
  int r = cd_sum_rows_unlocked(heap, rows_, cols_, o);
  cd_unlock_();
  return r;
}

double cd_gemm_wgrads(void) {
  cd_lock_();
  double r = cd_gemm_wgrads_unlocked();
  cd_unlock_();
  return r;
}

int cd_bf16_activations(void) {
  cd_lock_();
  int r = cd_bf16_activations_unlocked();
  cd_unlock_();
  return r;
}

int cd_bf16_expand(uint8_t *heap, double n, double off) {
  cd_lock_();
  int r = cd_bf16_expand_unlocked(heap, n, off);
  cd_unlock_();
  return r;
}

int cd_adam(uint8_t *heap, const double *p, const double *o) {
  cd_lock_();
  int r = cd_adam_unlocked(heap, p, o);
  cd_unlock_();
  return r;
}

int cd_cpu_isa(void) {
  cd_lock_();
  int r = cd_cpu_isa_unlocked();
  cd_unlock_();
  return r;
}

int cd_set_precision(int p) {
  cd_lock_();
  int r = cd_set_precision_unlocked(p);
  cd_unlock_();
  return r;
}

double cd_xcache_hits(void) {
  cd_lock_();
  double r = cd_xcache_hits_unlocked();
  cd_unlock_();
  return r;
}

double cd_own_wgrads(void) {
  cd_lock_();
  double r = cd_own_wgrads_unlocked();
  cd_unlock_();
  return r;
}

int cd_own_kernels(void) {
  cd_lock_();
  int r = cd_own_kernels_unlocked();
  cd_unlock_();
  return r;
}

double cd_winograd_convs(void) {
  cd_lock_();
  double r = cd_winograd_convs_unlocked();
  cd_unlock_();
  return r;
}
