// convdeck's convolution kernels for tfjs-backend-wasm: the forward convolution and the
// filter gradient as register-blocked SIMD matrix products over an indirection buffer (one
// input address per output pixel and filter tap, XNNPACK's method), so that neither needs
// an im2col copy nor a padded input.
//
// Same rules as kernels.c: the module owns nothing in tfjs's memory (no static data, no
// stack), every pointer is a byte offset in that memory. Each function takes a range of the
// work ([p0, p1) pixels or [k0, k1) filter rows) so that two threads can split a call; any
// split computes the same float32 results, in the same order, as one thread.
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

typedef v128_t V;
#define LD(p) wasm_v128_load(p)
#define ST(p, v) wasm_v128_store(p, v)
#define SPLAT(p) wasm_v128_load32_splat(p)
// Lane l of v in all four lanes.
#define LANE(v, l) wasm_i32x4_shuffle(v, v, l, l, l, l)

// The register tiles below are 4 rows x 8 columns in c00, c01 (row 0) ... c30, c31 (row 3).
// One step of a tile: row r += lane r of `a` times the 8 columns (b0, b1).
#define TILE_STEP(a, b0, b1)            \
  do {                                  \
    const V av_ = (a), b0_ = (b0), b1_ = (b1); \
    V s_ = LANE(av_, 0);                \
    MADD(c00, s_, b0_);                 \
    MADD(c01, s_, b1_);                 \
    s_ = LANE(av_, 1);                  \
    MADD(c10, s_, b0_);                 \
    MADD(c11, s_, b1_);                 \
    s_ = LANE(av_, 2);                  \
    MADD(c20, s_, b0_);                 \
    MADD(c21, s_, b1_);                 \
    s_ = LANE(av_, 3);                  \
    MADD(c30, s_, b0_);                 \
    MADD(c31, s_, b1_);                 \
  } while (0)
// Stores the tile's first `rows` rows at o, rows `stride` floats apart.
#define TILE_STORE(o, stride, rows)                   \
  do {                                                \
    float* o_ = (o);                                  \
    ST(o_, c00);                                      \
    ST(o_ + 4, c01);                                  \
    if ((rows) > 1) {                                 \
      ST(o_ + (stride), c10);                         \
      ST(o_ + (stride) + 4, c11);                     \
    }                                                 \
    if ((rows) > 2) {                                 \
      ST(o_ + 2 * (stride), c20);                     \
      ST(o_ + 2 * (stride) + 4, c21);                 \
    }                                                 \
    if ((rows) > 3) {                                 \
      ST(o_ + 3 * (stride), c30);                     \
      ST(o_ + 3 * (stride) + 4, c31);                 \
    }                                                 \
  } while (0)
// acc += a * b: relaxed SIMD's multiply-add where the build enables it (fused on CPUs with
// FMA: half the instructions), else a multiply then an add.
#ifdef __wasm_relaxed_simd__
#define MADD(acc, a, b) acc = wasm_f32x4_relaxed_madd(a, b, acc)
#else
#define MADD(acc, a, b) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a, b))
#endif

// Moves the cursor (column, row, image) of an images x rows x columns grid to the next cell.
#define NEXT_PIXEL(col, row, image, cols, rows) \
  do {                                          \
    if (++(col) == (cols)) {                    \
      (col) = 0;                                \
      if (++(row) == (rows)) {                  \
        (row) = 0;                              \
        (image)++;                              \
      }                                         \
    }                                           \
  } while (0)

// ind[p * fh * fw + r * fw + c] = address of channel 0 of the input pixel that tap (r, c) of
// output pixel p reads, or `zero` (inC zeros) in the padding. Fills output pixels [p0, p1).
// Pixels go image by image, p = (b * outH + oh) * outW + ow, when `slots` is 0; else
// position by position, p = (oh * outW + ow) * slots + b, `slots` (batch rounded up to 4)
// images to a position, those from `batch` on all `zero` (see conv_forward).
EXPORT(conv_indirection)
void conv_indirection(const float** ind, const float* x, const float* zero, int inH, int inW,
                      int inC, int outH, int outW, int fh, int fw, int sh, int sw, int padTop,
                      int padLeft, int slots, int batch, int p0, int p1) {
  const int taps = fh * fw;
  int ow, oh, b;
  if (slots) {
    b = p0 % slots, ow = p0 / slots % outW, oh = p0 / slots / outW;
  } else {
    ow = p0 % outW, oh = (p0 / outW) % outH, b = p0 / outW / outH;
  }
  for (int p = p0; p < p1; p++) {
    const float** row = ind + (long)p * taps;
    for (int r = 0; r < fh; r++) {
      const int ih = oh * sh - padTop + r;
      for (int c = 0; c < fw; c++) {
        const int iw = ow * sw - padLeft + c;
        row[r * fw + c] = (b >= batch || ih < 0 || ih >= inH || iw < 0 || iw >= inW)
                              ? zero
                              : x + ((long)(b * inH + ih) * inW + iw) * inC;
      }
    }
    if (slots) {
      NEXT_PIXEL(b, ow, oh, slots, outW);
    } else {
      NEXT_PIXEL(ow, oh, b, outW, outH);
    }
  }
}

// wp[co0 / 8][k][j] = w[k][co0 + j]: the filter [K, CO] as 8-column panels, so that the
// forward kernel reads it in order (a [K, CO] row is CO floats apart). CO % 8 == 0. Packs the
// panels of output channels [co0, co1).
EXPORT(pack_panels)
void pack_panels(float* wp, const float* w, int K, int CO, int co0, int co1) {
  for (int c = co0; c < co1; c += 8) {
    float* d = wp + (long)c * K;
    const float* s = w + c;
    for (int k = 0; k < K; k++, d += 8, s += CO) {
      ST(d, LD(s));
      ST(d + 4, LD(s + 4));
    }
  }
}

// Transposes the 4x4 block of rows v0..v3 in place: afterwards v_j holds lane j of each row.
#define TRANSPOSE4(v0, v1, v2, v3)                      \
  do {                                                  \
    const V t0_ = wasm_i32x4_shuffle(v0, v1, 0, 4, 1, 5); \
    const V t1_ = wasm_i32x4_shuffle(v2, v3, 0, 4, 1, 5); \
    const V t2_ = wasm_i32x4_shuffle(v0, v1, 2, 6, 3, 7); \
    const V t3_ = wasm_i32x4_shuffle(v2, v3, 2, 6, 3, 7); \
    v0 = wasm_i32x4_shuffle(t0_, t1_, 0, 1, 4, 5);      \
    v1 = wasm_i32x4_shuffle(t0_, t1_, 2, 3, 6, 7);      \
    v2 = wasm_i32x4_shuffle(t2_, t3_, 0, 1, 4, 5);      \
    v3 = wasm_i32x4_shuffle(t2_, t3_, 2, 3, 6, 7);      \
  } while (0)

// d[4 * j + i] = lane j of v_i: the 4x4 block of rows v0..v3 stored transposed.
static inline void store_transposed(float* d, V v0, V v1, V v2, V v3) {
  TRANSPOSE4(v0, v1, v2, v3);
  ST(d, v0);
  ST(d + 4, v1);
  ST(d + 8, v2);
  ST(d + 12, v3);
}

// out[fh-1-r][fw-1-c][o][i] = f[r][c][i][o]: the filter of a convolution's input gradient
// (flipped, its channels swapped), by 4x4 transposed blocks where both channel counts are
// multiples of 4.
EXPORT(flip_filter)
void flip_filter(float* out, const float* f, int fh, int fw, int inC, int outC) {
  for (int r = 0; r < fh; r++) {
    for (int c = 0; c < fw; c++) {
      const float* s = f + (long)(r * fw + c) * inC * outC;
      float* d = out + (long)((fh - 1 - r) * fw + (fw - 1 - c)) * outC * inC;
      if (inC % 4 == 0 && outC % 4 == 0) {
        for (int i = 0; i < inC; i += 4) {
          for (int o = 0; o < outC; o += 4) {
            const float* q = s + (long)i * outC + o;
            V v0 = LD(q), v1 = LD(q + outC), v2 = LD(q + 2 * outC), v3 = LD(q + 3 * outC);
            TRANSPOSE4(v0, v1, v2, v3);
            float* e = d + (long)o * inC + i;
            ST(e, v0);
            ST(e + inC, v1);
            ST(e + 2 * inC, v2);
            ST(e + 3 * inC, v3);
          }
        }
      } else {
        for (int i = 0; i < inC; i++) {
          for (int o = 0; o < outC; o++) d[o * inC + i] = s[i * outC + o];
        }
      }
    }
  }
}

// Packs the inputs of output pixels [p, p + 4) (rows past `valid` read `zero`) as
// ap[k][j] = input k = t * C + ci of pixel p + j: one vector per k, so that the forward tile
// loads the 4 pixels' inputs with one access and broadcasts each by a shuffle. Taps that all 4
// pixels read in the padding are left out: kept[0] = how many taps are packed, kept[1..] which
// ones, in order.
static void pack_tile(float* ap, int* kept, const float* const* ind, const float* zero,
                      int taps, int C, int p, int valid) {
  const float* const* i0 = ind + (long)p * taps;
  int n = 0;
  for (int t = 0; t < taps; t++) {
    const float* r0 = i0[t];
    const float* r1 = valid > 1 ? i0[taps + t] : zero;
    const float* r2 = valid > 2 ? i0[2 * taps + t] : zero;
    const float* r3 = valid > 3 ? i0[3 * taps + t] : zero;
    if (r0 == zero && r1 == zero && r2 == zero && r3 == zero) continue;
    kept[++n] = t;
    int ci = 0;
    for (; ci + 4 <= C; ci += 4, ap += 16) {
      store_transposed(ap, LD(r0 + ci), LD(r1 + ci), LD(r2 + ci), LD(r3 + ci));
    }
    for (; ci < C; ci++, ap += 4) {
      ap[0] = r0[ci];
      ap[1] = r1[ci];
      ap[2] = r2[ci];
      ap[3] = r3[ci];
    }
  }
  kept[0] = n;
}

// y[p, co] = sum over taps t and channels ci of ind[p, t][ci] * w[(t * C + ci) * CO + co]
// for output pixels [p0, p1), with the filter [fh, fw, C, CO] given as pack_panels' panels
// `wp`. CO must be a multiple of 8. Pixels go in blocks of `block` (a multiple of 4): the
// block's inputs are first packed 4 pixels at a time into `ap` (block * taps * C floats, then
// block / 4 * (taps + 1) ints: the caller's own), which stays in cache while every 8-channel
// panel passes over it; then 4 pixels x 8 channels at a time, each step one load of 4 inputs
// and two of the filter (Deno's V8 checks every wasm memory access against the bounds: 3
// accesses per 8 multiply-adds here against 6 with a scalar broadcast per pixel ran 50 against
// 41 GFLOP/s on one thread; the sums are the same, in the same order). Taps that a tile's 4
// pixels all read in the padding are skipped (their products are zeros).
// Pixels are ordered as conv_indirection's: with `slots` > 0, position by position, so that a
// tile is 4 images at one output position: the same taps fall in the padding for all 4, which
// on small images is most of them (49 of 81 taps of a 3x3 image carry data); y's row of image b
// at position q is (b * positions + q).
EXPORT(conv_forward)
void conv_forward(float* y, const float* const* ind, const float* wp, float* ap,
                  const float* zero, int taps, int C, int CO, int block, int slots, int batch,
                  int positions, int p0, int p1) {
  const long K = (long)taps * C;
  int* kept = (int*)(ap + block * K);
  for (int b0 = p0; b0 < p1; b0 += block) {
    const int b1 = b0 + block < p1 ? b0 + block : p1;
    for (int p = b0; p < b1; p += 4) {
      const int valid = slots ? batch - p % slots : b1 - p;
      pack_tile(ap + (p - b0) * K, kept + (p - b0) / 4 * (taps + 1), ind, zero, taps, C, p,
                valid);
    }
    for (int co0 = 0; co0 < CO; co0 += 8) {
      const float* wpanel = wp + co0 * K;
      for (int p = b0; p < b1; p += 4) {
        V c00 = wasm_f32x4_splat(0.0f), c01 = c00, c10 = c00, c11 = c00;
        V c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        const float* a = ap + (p - b0) * K;
        const int* tk = kept + (p - b0) / 4 * (taps + 1);
        if (tk[0] == taps) {
          const float* wb = wpanel;
          for (long k = 0; k < K; k++, a += 4, wb += 8) {
            TILE_STEP(LD(a), LD(wb), LD(wb + 4));
          }
        } else {
          for (int i = 1; i <= tk[0]; i++) {
            const float* wb = wpanel + (long)tk[i] * C * 8;
            for (int k = 0; k < C; k++, a += 4, wb += 8) {
              TILE_STEP(LD(a), LD(wb), LD(wb + 4));
            }
          }
        }
        if (slots) {
          const int b = p % slots, rows = batch - b < 4 ? batch - b : 4;
          TILE_STORE(y + ((long)b * positions + p / slots) * CO + co0, (long)positions * CO, rows);
        } else {
          TILE_STORE(y + (long)p * CO + co0, CO, b1 - p);
        }
      }
    }
  }
}

// Filter gradient rows [k0, k1) (row k = t * C + ci of dw [fh, fw, C, CO]):
// dw[k, co] (+)= sum over output pixels p in [p0, p1) of ind[p, t][ci] * dy[p, co], summed in
// pixel order in blocks of `block` pixels; the rows are overwritten unless `accumulate`.
// CO must be a multiple of 8. Each block is first copied to `pack`, the caller's own: dy as
// 8-channel panels (block * CO floats), then, from 64 output channels up, the inputs of rows
// [k0, k1) 4 rows to a vector (block * (k1 - k0 + 3) floats), so that a tile step is one load
// of 4 rows' inputs and two of dy, read in order: Deno's V8 checks every wasm memory access
// against the bounds, and this saves the step's address load (about 10% faster from 64
// channels up on one thread, 6% slower at 32, where the copy weighs more). Any choice of path
// gives the same sums in the same order.
// Pixels are ordered as conv_indirection's. With `slots` > 0 (position by position) a block is
// one output position's `slots` images (block == slots, p0 a multiple of it): dy's rows of
// image b are (b * positions + q), those from `batch` on read as zeros, and the 4 rows of one
// tap that the position reads in the padding are skipped (on a 3x3 image, 32 taps of 81).
EXPORT(conv_filter_grad)
void conv_filter_grad(float* dw, const float* const* ind, const float* dy, float* pack,
                      const float* zero, int taps, int C, int CO, int slots, int batch,
                      int positions, int p0, int p1, int block, int k0, int k1, int accumulate) {
  const long dyStep = slots ? (long)positions * CO : CO;
  for (int b0 = p0; b0 < p1; b0 += block) {
    const int b1 = b0 + block < p1 ? b0 + block : p1;
    const int bn = b1 - b0;
    const float* dyBlock = dy + (slots ? (long)(b0 / slots) : (long)b0) * CO;
    const int dyRows = slots && batch < bn ? batch : bn;
    for (int co0 = 0; co0 < CO; co0 += 8) {
      float* d = pack + (long)co0 * bn;
      const float* s = dyBlock + co0;
      int j = 0;
      for (; j < dyRows; j++, d += 8, s += dyStep) {
        ST(d, LD(s));
        ST(d + 4, LD(s + 4));
      }
      for (; j < bn; j++, d += 8) {
        ST(d, wasm_f32x4_splat(0.0f));
        ST(d + 4, wasm_f32x4_splat(0.0f));
      }
    }
    // Whether the block's pixels read tap t in the padding (position by position only).
    const float* const* firstTaps = ind + (long)b0 * taps;
#define PADDED_TAP(t) (slots && firstTaps[t] == zero)
    float* xp = CO >= 64 ? pack + (long)CO * bn : 0;
    for (int k = k0; xp && k < k1; k += 4) {
      const int rows = k1 - k < 4 ? k1 - k : 4;
      const int t0 = k / C, d0 = k % C;
      float* q = xp + (long)(k - k0) * bn;
      const float* const* ip = ind + (long)b0 * taps;
      if (rows == 4 && (k + 3) / C == t0) {
        if (PADDED_TAP(t0)) continue;
        for (int j = 0; j < bn; j++, q += 4, ip += taps) ST(q, LD(ip[t0] + d0));
      } else {
        // Rows that cross a tap or pass k1 (those read 0: computed, not stored).
        for (int j = 0; j < bn; j++, q += 4, ip += taps) {
          for (int r = 0; r < 4; r++) q[r] = r < rows ? ip[(k + r) / C][(k + r) % C] : 0.0f;
        }
      }
    }
    for (int k = k0; k < k1; k += 4) {
      const int rows = k1 - k < 4 ? k1 - k : 4;
      const float* xk = xp ? xp + (long)(k - k0) * bn : 0;
      // Rows past k1 repeat row k (computed, not stored).
      const int t0 = k / C, d0 = k % C;
      const int t1 = rows > 1 ? (k + 1) / C : t0, d1 = rows > 1 ? (k + 1) % C : d0;
      const int t2 = rows > 2 ? (k + 2) / C : t0, d2 = rows > 2 ? (k + 2) % C : d0;
      const int t3 = rows > 3 ? (k + 3) / C : t0, d3 = rows > 3 ? (k + 3) % C : d0;
      const int sameTap = t0 == t3 && rows == 4;
      // Rows whose products in this block are all zeros: left as they are (zeroed if first).
      const int padded = sameTap && PADDED_TAP(t0);
      if (padded && !(b0 == p0 && !accumulate)) continue;
      for (int co0 = 0; co0 < CO; co0 += 8) {
        float* o = dw + (long)k * CO + co0;
        V c00, c01, c10, c11, c20, c21, c30, c31;
        if (b0 == p0 && !accumulate) {
          c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = wasm_f32x4_splat(0.0f);
        } else {
          c00 = LD(o);
          c01 = LD(o + 4);
          c10 = rows > 1 ? LD(o + CO) : c00;
          c11 = rows > 1 ? LD(o + CO + 4) : c01;
          c20 = rows > 2 ? LD(o + 2 * CO) : c00;
          c21 = rows > 2 ? LD(o + 2 * CO + 4) : c01;
          c30 = rows > 3 ? LD(o + 3 * CO) : c00;
          c31 = rows > 3 ? LD(o + 3 * CO + 4) : c01;
        }
        const float* d = pack + (long)co0 * bn;
        if (padded) {
          // Nothing to add: the first block's zeros are stored.
        } else if (xk) {
          const float* a = xk;
          for (int j = 0; j < bn; j++, a += 4, d += 8) {
            TILE_STEP(LD(a), LD(d), LD(d + 4));
          }
        } else {
          const float* const* ip = ind + (long)b0 * taps;
          if (sameTap) {
            for (int p = b0; p < b1; p++) {
              // One load for the 4 rows' inputs (channels d0..d0+3 of one tap), each then
              // broadcast by a shuffle (31 -> 44 GFLOP/s on one thread against 4 broadcasts).
              TILE_STEP(LD(ip[t0] + d0), LD(d), LD(d + 4));
              d += 8;
              ip += taps;
            }
          } else {
            for (int p = b0; p < b1; p++) {
              const V b0v = LD(d), b1v = LD(d + 4);
              d += 8;
              V s = SPLAT(ip[t0] + d0);
              MADD(c00, s, b0v);
              MADD(c01, s, b1v);
              s = SPLAT(ip[t1] + d1);
              MADD(c10, s, b0v);
              MADD(c11, s, b1v);
              s = SPLAT(ip[t2] + d2);
              MADD(c20, s, b0v);
              MADD(c21, s, b1v);
              s = SPLAT(ip[t3] + d3);
              MADD(c30, s, b0v);
              MADD(c31, s, b1v);
              ip += taps;
            }
          }
        }
        TILE_STORE(o, CO, rows);
      }
    }
  }
}
#undef PADDED_TAP

// Winograd F(2x2, 3x3) for 3x3 convolutions of stride 1: each 2x2 block of output pixels
// ("tile") is computed from its 4x4 input patch d as A^T [(G g G^T) . (B^T d B)] A, 16
// multiplies per input and output channel instead of 36 (Lavin & Gray, 2016). The 16
// element-wise products over the channels are 16 matrix products, run on the forward
// kernel's 4 x 8 register tile. The sums are not the direct convolution's (the transforms
// add and subtract first): on the book's layers they differ from it by a few float32 units
// in the last place of the largest output.
#define ADD wasm_f32x4_add
#define SUB wasm_f32x4_sub
#define MUL wasm_f32x4_mul
// Floats between two of the 16 planes of a transform holding `floats` each: one cache line more,
// so that the 16 vectors a tile's transform writes (or reads) at one offset of every plane do
// not all fall in the same cache set (planes of a power-of-two size did; the filter gradient's
// transforms ran 1.6x faster on one thread with the line).
#define PLANE(floats) ((long)(floats) + 16)

// The input transform B^T d B of 4 channels at `ci` of the 4x4 patch whose 16 pixel addresses
// (row-major) are p[0..15]: B_TRANSFORM declares e<i><c> = (B^T d)[i][c] (rows 0-3 of B^T are
// (1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1)), then B_OUTPUTS(OUT) calls
// OUT(xn, value) for the 16 elements xn = 4 * i + k of (B^T d) B.
#define B_COLUMN(p, ci, c)                                                                 \
  const V d0##c = LD(p[0 + c] + ci), d1##c = LD(p[4 + c] + ci), d2##c = LD(p[8 + c] + ci), \
          d3##c = LD(p[12 + c] + ci);                                                      \
  const V e0##c = SUB(d0##c, d2##c), e1##c = ADD(d1##c, d2##c), e2##c = SUB(d2##c, d1##c), \
          e3##c = SUB(d1##c, d3##c);
#define B_TRANSFORM(p, ci) \
  B_COLUMN(p, ci, 0)       \
  B_COLUMN(p, ci, 1)       \
  B_COLUMN(p, ci, 2)       \
  B_COLUMN(p, ci, 3)
#define B_ROW_OUTPUTS(OUT, i)                \
  OUT(i * 4 + 0, SUB(e##i##0, e##i##2));     \
  OUT(i * 4 + 1, ADD(e##i##1, e##i##2));     \
  OUT(i * 4 + 2, SUB(e##i##2, e##i##1));     \
  OUT(i * 4 + 3, SUB(e##i##1, e##i##3));
#define B_OUTPUTS(OUT)  \
  B_ROW_OUTPUTS(OUT, 0) \
  B_ROW_OUTPUTS(OUT, 1) \
  B_ROW_OUTPUTS(OUT, 2) \
  B_ROW_OUTPUTS(OUT, 3)

// The (tile + 2)^2 input addresses of tile t = (b * tilesH + th) * tilesW + tw (row-major over
// its input patch, whose first pixel is input row tile * th - padTop, column tile * tw -
// padLeft; `zero` outside), for output tiles of tile x tile pixels (2 or 4).
static void tile_addresses(const float** row, const float* x, const float* zero, int inH,
                           int inW, int C, int tilesH, int tilesW, int padTop, int padLeft,
                           int t, int tile) {
  const int tw = t % tilesW, th = (t / tilesW) % tilesH, b = t / tilesW / tilesH;
  const int n = tile + 2;
  for (int r = 0; r < n; r++) {
    const int ih = tile * th - padTop + r;
    for (int c = 0; c < n; c++) {
      const int iw = tile * tw - padLeft + c;
      row[r * n + c] = (ih < 0 || ih >= inH || iw < 0 || iw >= inW)
                           ? zero
                           : x + ((long)(b * inH + ih) * inW + iw) * C;
    }
  }
}

// Winograd F(4x4, 3x3): 4x4 output tiles from 6x6 input patches, 36 products per pair of
// channels for 16 outputs (against 16 for 4 with F(2x2, 3x3)), with the interpolation points 0,
// 1, -1, 2, -2 and infinity. B6(n, d0..d5) declares n0..n5 = B^T d (rows of B^T: (4, 0, -5, 0,
// 1, 0), (0, -4, -4, 1, 1, 0), (0, 4, -4, -1, 1, 0), (0, -2, -1, 2, 1, 0), (0, 2, -1, -2, 1,
// 0), (0, 4, 0, -5, 0, 1)); needs `four`, `five` and `two` splats.
#define B6(n, d0, d1, d2, d3, d4, d5)                                                     \
  const V n##0 = ADD(SUB(MUL(four, d0), MUL(five, d2)), d4);                              \
  const V n##a = SUB(d4, MUL(four, d2)), n##b = SUB(d3, MUL(four, d1));                   \
  const V n##1 = ADD(n##a, n##b), n##2 = SUB(n##a, n##b);                                 \
  const V n##c = SUB(d4, d2), n##d = MUL(two, SUB(d3, d1));                               \
  const V n##3 = ADD(n##c, n##d), n##4 = SUB(n##c, n##d);                                 \
  const V n##5 = ADD(SUB(MUL(four, d1), MUL(five, d3)), d5);
// Column c of the 6x6 patch of 4 channels at ci (addresses p[0..35]) through B^T: k<c>_0..5.
#define B6_COLUMN(p, ci, c)                                                               \
  B6(k##c##_, LD(p[0 + c] + ci), LD(p[6 + c] + ci), LD(p[12 + c] + ci), LD(p[18 + c] + ci), \
     LD(p[24 + c] + ci), LD(p[30 + c] + ci))
// OUT(6 * i + k, n<k>) for k = 0..5: row i of a 6x6 transform, its values in n0..n5.
#define OUT_ROW6(OUT, i, n) \
  OUT(6 * i + 0, n##0);     \
  OUT(6 * i + 1, n##1);     \
  OUT(6 * i + 2, n##2);     \
  OUT(6 * i + 3, n##3);     \
  OUT(6 * i + 4, n##4);     \
  OUT(6 * i + 5, n##5);
// M(0) .. M(5).
#define FOR6(M) M(0) M(1) M(2) M(3) M(4) M(5)
// Row i of (B^T d) B: r<i>_0..5, then OUT(6 * i + k, r<i>_k).
#define B6_ROW(OUT, i)                                        \
  B6(r##i##_, k0_##i, k1_##i, k2_##i, k3_##i, k4_##i, k5_##i) \
  OUT_ROW6(OUT, i, r##i##_)
// OUT(xn, value) for the 36 elements of B^T d B of 4 channels at ci of the patch at p.
#define B6_OUTPUTS(p, ci, OUT) \
  B6_COLUMN(p, ci, 0)          \
  B6_COLUMN(p, ci, 1)          \
  B6_COLUMN(p, ci, 2)          \
  B6_COLUMN(p, ci, 3)          \
  B6_COLUMN(p, ci, 4)          \
  B6_COLUMN(p, ci, 5)          \
  B6_ROW(OUT, 0)               \
  B6_ROW(OUT, 1)               \
  B6_ROW(OUT, 2)               \
  B6_ROW(OUT, 3)               \
  B6_ROW(OUT, 4)               \
  B6_ROW(OUT, 5)
// A4(n, m0..m5) declares n0..n3 = A^T m (rows of A^T: (1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2,
// 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1)); needs `two`, `four` and `eight` splats.
#define A4(n, m0, m1, m2, m3, m4, m5)                                                     \
  const V n##a = ADD(m1, m2), n##b = SUB(m1, m2), n##c = ADD(m3, m4), n##d = SUB(m3, m4); \
  const V n##0 = ADD(ADD(m0, n##a), n##c), n##1 = ADD(n##b, MUL(two, n##d));             \
  const V n##2 = ADD(n##a, MUL(four, n##c)), n##3 = ADD(ADD(n##b, MUL(eight, n##d)), m5);
// G6(n, g0, g1, g2) declares n0..n5 = G g (rows of G: (1/4, 0, 0), (-1/6, -1/6, -1/6), (-1/6,
// 1/6, -1/6), (1/24, 1/12, 1/6), (1/24, -1/12, 1/6), (0, 0, 1)); needs the splats below.
#define G6(n, g0, g1, g2)                                                                 \
  const V n##s = ADD(g0, g2), n##p = ADD(MUL(g0, r24), MUL(g2, r6)), n##q = MUL(g1, r12); \
  const V n##0 = MUL(g0, r4), n##1 = MUL(ADD(n##s, g1), m6), n##2 = MUL(SUB(n##s, g1), m6); \
  const V n##3 = ADD(n##p, n##q), n##4 = SUB(n##p, n##q), n##5 = g2;

// up[xn][co0 / 8][ci][j] = (G g G^T)[xn] of the filter g = w[:, :, ci, co0 + j] ([3, 3, C, CO],
// xn = n * row + column of the n x n transform, n = tile + 2 for output tiles of 2x2 or 4x4):
// n^2 planes of 8-column panels, as the products read them. Transforms output channels [co0,
// co1) (multiples of 4; CO % 8 == 0).
EXPORT(winograd_filter)
void winograd_filter(float* up, const float* w, int C, int CO, int tile, int co0, int co1) {
  const long plane = (long)C * CO;
  const V half = wasm_f32x4_splat(0.5f);
  const V r4 = wasm_f32x4_splat(1.0f / 4), r6 = wasm_f32x4_splat(1.0f / 6);
  const V r12 = wasm_f32x4_splat(1.0f / 12), r24 = wasm_f32x4_splat(1.0f / 24);
  const V m6 = wasm_f32x4_splat(-1.0f / 6);
  for (int co = co0; co < co1; co += 4) {
    float* panel = up + (long)(co & ~7) * C + (co & 7);
    for (int ci = 0; ci < C; ci++) {
      const float* s = w + (long)ci * CO + co;
      float* d = panel + (long)ci * 8;
      if (tile == 4) {
        // t = G g down each filter column c, then each row of t through G: u = t G^T.
#define G6_COLUMN(c) \
  G6(t##c##_, LD(s + (0 + c) * plane), LD(s + (3 + c) * plane), LD(s + (6 + c) * plane))
        G6_COLUMN(0)
        G6_COLUMN(1)
        G6_COLUMN(2)
#define G6_ROW(i)                     \
  G6(u##i##_, t0_##i, t1_##i, t2_##i) \
  OUT_ROW6(U_STORE, i, u##i##_)
#define U_STORE(xn, v) ST(d + (xn) * plane, v)
        FOR6(G6_ROW)
#undef U_STORE
#undef G6_COLUMN
#undef G6_ROW
        continue;
      }
      // t = G g: rows 0 and 3 are the filter's first and last rows, 1 and 2 half their sum
      // plus and minus half the middle row; then the same down the columns: u = t G^T.
#define G_ROWS(c)                                                                  \
  const V g0##c = LD(s + (0 + c) * plane), g1##c = LD(s + (3 + c) * plane),        \
          g2##c = LD(s + (6 + c) * plane);                                         \
  const V t0##c = g0##c, t1##c = MUL(ADD(ADD(g0##c, g1##c), g2##c), half),         \
          t2##c = MUL(ADD(SUB(g0##c, g1##c), g2##c), half), t3##c = g2##c;
      G_ROWS(0)
      G_ROWS(1)
      G_ROWS(2)
#define G_COLUMNS(i)                                                              \
  ST(d + (i * 4 + 0) * plane, t##i##0);                                           \
  ST(d + (i * 4 + 1) * plane, MUL(ADD(ADD(t##i##0, t##i##1), t##i##2), half));    \
  ST(d + (i * 4 + 2) * plane, MUL(ADD(SUB(t##i##0, t##i##1), t##i##2), half));    \
  ST(d + (i * 4 + 3) * plane, t##i##2);
      G_COLUMNS(0)
      G_COLUMNS(1)
      G_COLUMNS(2)
      G_COLUMNS(3)
#undef G_ROWS
#undef G_COLUMNS
    }
  }
}

// y (NHWC [B, outH, outW, CO]) for tiles [t0, t1) of the convolution of x (NHWC [B, inH, inW,
// C]) by the filter that winograd_filter transformed into `up` for output tiles of `tile` x
// `tile` pixels (2 or 4; n = tile + 2): tile t = (b * tilesH + th) * tilesW + tw holds output
// rows tile * th .. + tile - 1 and the same columns (those past outH or outW are computed and
// not stored) and reads the n x n input patch from row tile * th - padTop, column tile * tw -
// padLeft (outside the input: `zero`, C zeros). C % 4 == 0, CO % 8 == 0. Tiles go in blocks of
// `block` (a multiple of 4); `work` (the caller's own, for one thread) holds a block's n^2
// input addresses per tile, its transformed inputs (n^2 planes of PLANE(block * C) floats), its
// products (n^2 * block * CO) and 16 n^2 floats for the transpose. Each tile's sums are the
// same whichever thread computes it and wherever the blocks fall.
EXPORT(winograd_forward)
void winograd_forward(float* y, const float* x, const float* up, float* work, const float* zero,
                      int inH, int inW, int C, int outH, int outW, int CO, int padTop,
                      int padLeft, int tilesH, int tilesW, int tile, int block, int t0, int t1) {
  const int nn = (tile + 2) * (tile + 2);
  const float** ind = (const float**)work;
  float* vp = work + nn * block;
  float* m = vp + nn * PLANE(block * C);
  float* tmp = m + (long)nn * block * CO;
  const V two = wasm_f32x4_splat(2.0f), four = wasm_f32x4_splat(4.0f);
  const V five = wasm_f32x4_splat(5.0f), eight = wasm_f32x4_splat(8.0f);
  for (int b0 = t0; b0 < t1; b0 += block) {
    const int b1 = b0 + block < t1 ? b0 + block : t1;
    const int nt = b1 - b0, groups = (nt + 3) / 4;
    // The input addresses of each tile of the block (the last group's missing tiles: zeros).
    for (int t = 0; t < groups * 4; t++) {
      if (t < nt) {
        tile_addresses(ind + t * nn, x, zero, inH, inW, C, tilesH, tilesW, padTop, padLeft,
                       b0 + t, tile);
      } else {
        for (int i = 0; i < nn; i++) ind[t * nn + i] = zero;
      }
    }
    // vp[xn][g][ci][j] = (B^T d B)[xn] of tile 4g + j, channel ci: 4 channels of a tile at a
    // time into tmp[xn][j], then each xn's 4 tiles x 4 channels transposed, so that a product
    // step loads the 4 tiles' inputs with one access (as conv_forward's packed inputs).
    const long groupStride = (long)C * 4, planeStride = PLANE(groups * C * 4);
    for (int g = 0; g < groups; g++) {
      for (int ci = 0; ci < C; ci += 4) {
        for (int j = 0; j < 4; j++) {
          const float* const* p = ind + (g * 4 + j) * nn;
          float* q = tmp + j * 4;
#define B_STORE(xn, v) ST(q + (xn) * 16, v)
          if (tile == 4) {
            B6_OUTPUTS(p, ci, B_STORE)
          } else {
            B_TRANSFORM(p, ci);
            B_OUTPUTS(B_STORE);
          }
#undef B_STORE
        }
        float* dst = vp + g * groupStride + ci * 4;
        for (int xn = 0; xn < nn; xn++, dst += planeStride) {
          const float* r = tmp + xn * 16;
          store_transposed(dst, LD(r), LD(r + 4), LD(r + 8), LD(r + 12));
        }
      }
    }
    // The n^2 products m[t][xn][co] = sum over ci of vp[xn][t][ci] * up[xn][ci][co], 4 tiles x
    // 8 output channels at a time.
    const long mRow = (long)nn * CO;
    for (int xn = 0; xn < nn; xn++) {
      for (int co0 = 0; co0 < CO; co0 += 8) {
        const float* panel = up + (long)xn * C * CO + (long)co0 * C;
        for (int g = 0; g < groups; g++) {
          V c00 = wasm_f32x4_splat(0.0f), c01 = c00, c10 = c00, c11 = c00;
          V c20 = c00, c21 = c00, c30 = c00, c31 = c00;
          const float* a = vp + xn * planeStride + g * groupStride;
          const float* wb = panel;
          for (int k = 0; k < C; k++, a += 4, wb += 8) {
            TILE_STEP(LD(a), LD(wb), LD(wb + 4));
          }
          TILE_STORE(m + (long)g * 4 * mRow + xn * CO + co0, mRow, 4);
        }
      }
    }
    // y = A^T m A per tile, 4 output channels at a time.
    int tw = b0 % tilesW, th = (b0 / tilesW) % tilesH, b = b0 / tilesW / tilesH;
    for (int t = 0; t < nt; t++) {
      const int oh = tile * th, ow = tile * tw;
      const int rows = outH - oh < tile ? outH - oh : tile;
      const int cols = outW - ow < tile ? outW - ow : tile;
      float* o = y + ((long)(b * outH + oh) * outW + ow) * CO;
      const float* mt = m + t * mRow;
      if (tile == 4) {
        for (int co = 0; co < CO; co += 4) {
          const float* q = mt + co;
          // s = A^T m down each column k of the 6x6 products, then each row of s through A^T.
#define A4_COLUMN(k)                                                                   \
  A4(s##k##_, LD(q + (0 + k) * CO), LD(q + (6 + k) * CO), LD(q + (12 + k) * CO),       \
     LD(q + (18 + k) * CO), LD(q + (24 + k) * CO), LD(q + (30 + k) * CO))
          A4_COLUMN(0)
          A4_COLUMN(1)
          A4_COLUMN(2)
          A4_COLUMN(3)
          A4_COLUMN(4)
          A4_COLUMN(5)
#define A4_ROW(r)                                                              \
  if (r < rows) {                                                              \
    A4(y##r##_, s0_##r, s1_##r, s2_##r, s3_##r, s4_##r, s5_##r)                \
    float* orow = o + (long)r * outW * CO + co;                                \
    ST(orow, y##r##_0);                                                        \
    if (cols > 1) ST(orow + CO, y##r##_1);                                     \
    if (cols > 2) ST(orow + 2 * CO, y##r##_2);                                 \
    if (cols > 3) ST(orow + 3 * CO, y##r##_3);                                 \
  }
          A4_ROW(0)
          A4_ROW(1)
          A4_ROW(2)
          A4_ROW(3)
#undef A4_COLUMN
#undef A4_ROW
        }
      } else {
        // Rows of A^T: (1, 1, 1, 0) and (0, 1, -1, -1).
        float* o1 = o + (long)outW * CO;
        for (int co = 0; co < CO; co += 4) {
          const float* q = mt + co;
#define A_ROWS(c)                                                                   \
  const V m0##c = LD(q + (0 + c) * CO), m1##c = LD(q + (4 + c) * CO),               \
          m2##c = LD(q + (8 + c) * CO), m3##c = LD(q + (12 + c) * CO);              \
  const V s0##c = ADD(ADD(m0##c, m1##c), m2##c), s1##c = SUB(SUB(m1##c, m2##c), m3##c);
          A_ROWS(0)
          A_ROWS(1)
          A_ROWS(2)
          A_ROWS(3)
#undef A_ROWS
          ST(o + co, ADD(ADD(s00, s01), s02));
          if (cols > 1) ST(o + CO + co, SUB(SUB(s01, s02), s03));
          if (rows > 1) {
            ST(o1 + co, ADD(ADD(s10, s11), s12));
            if (cols > 1) ST(o1 + CO + co, SUB(SUB(s11, s12), s13));
          }
        }
      }
      NEXT_PIXEL(tw, th, b, tilesW, tilesH);
    }
  }
}

// The filter gradient by Winograd F(tile x tile, 3x3) (tile 2 or 4, n = tile + 2): the forward
// pass is y = A^T [U . V] A per tile (U = G g G^T, V = B^T d B), so dg = G^T [sum over tiles
// of V . (A dy A^T)] G: n^2 products of the transformed inputs and output gradients, summed
// over the tiles (16 multiply-adds per 2x2 tile, input and output channel, or 36 per 4x4,
// instead of 36 or 144). Three steps, each split over threads by what it writes:
// winograd_grad_transform (tiles of a chunk), winograd_grad_products (rows of the n^2 sums,
// over the chunk's tiles in order, added to the previous chunks'), then winograd_grad_filter
// (the filter rows). The sums do not depend on the split.

// For tiles [t0, t1) of the chunk that starts at tile c0 and holds n tiles: vs[xn][ci / 4][t -
// c0][ci % 4] = (B^T d B)[xn] (4 input channels to a vector, as the products read them) and
// zs[xn][co / 8][t - c0][co % 8] = (A dy A^T)[xn] (8-column panels), planes PLANE(C * n) and
// PLANE(CO * n) floats apart; dy's pixels past outH or outW read `zero` (max(C, CO) zeros), as
// do the input pixels outside x. `ind` (the caller's own, per thread) holds (tile + 2)^2
// addresses. C % 4 == 0, CO % 8 == 0.
EXPORT(winograd_grad_transform)
void winograd_grad_transform(float* vs, float* zs, const float** ind, const float* x,
                             const float* dy, const float* zero, int inH, int inW, int C,
                             int outH, int outW, int CO, int padTop, int padLeft, int tilesH,
                             int tilesW, int tile, int c0, int n, int t0, int t1) {
  const V two = wasm_f32x4_splat(2.0f), four = wasm_f32x4_splat(4.0f);
  const V five = wasm_f32x4_splat(5.0f), eight = wasm_f32x4_splat(8.0f);
  const long vPlane = PLANE(C * n), zPlane = PLANE(CO * n);
  for (int t = t0; t < t1; t++) {
    tile_addresses(ind, x, zero, inH, inW, C, tilesH, tilesW, padTop, padLeft, t, tile);
    const float* const* p = ind;
    float* v = vs + (long)(t - c0) * 4;
    for (int ci = 0; ci < C; ci += 4) {
      float* vq = v + (long)ci * n;
#define V_STORE(xn, value) ST(vq + (xn) * vPlane, value)
      if (tile == 4) {
        B6_OUTPUTS(p, ci, V_STORE)
      } else {
        B_TRANSFORM(p, ci);
        B_OUTPUTS(V_STORE);
      }
#undef V_STORE
    }
    const int tw = t % tilesW, th = (t / tilesW) % tilesH, b = t / tilesW / tilesH;
    const int oh = tile * th, ow = tile * tw;
    const float* y00 = dy + ((long)(b * outH + oh) * outW + ow) * CO;
    float* z = zs + (long)(t - c0) * 8;
    if (tile == 4) {
      // dy's 4x4 pixels (row-major in ind, reused: the input addresses are no longer needed).
      for (int r = 0; r < 4; r++) {
        for (int c = 0; c < 4; c++) {
          ind[r * 4 + c] = oh + r < outH && ow + c < outW ? y00 + ((long)r * outW + c) * CO : zero;
        }
      }
      for (int co = 0; co < CO; co += 4) {
        float* zq = z + (long)(co & ~7) * n + (co & 7);
        // h = A dy down each column c (rows of A: (1, 0, 0, 0), (1, 1, 1, 1), (1, -1, 1, -1),
        // (1, 2, 4, 8), (1, -2, 4, -8), (0, 0, 0, 1)), then each row of h through A.
#define A6(n, y0, y1, y2, y3)                                                        \
  const V n##a = ADD(y0, y2), n##b = ADD(y1, y3);                                    \
  const V n##c = ADD(y0, MUL(four, y2)), n##d = ADD(MUL(two, y1), MUL(eight, y3));   \
  const V n##0 = y0, n##1 = ADD(n##a, n##b), n##2 = SUB(n##a, n##b);                 \
  const V n##3 = ADD(n##c, n##d), n##4 = SUB(n##c, n##d), n##5 = y3;
#define A6_COLUMN(c) \
  A6(h##c##_, LD(ind[c] + co), LD(ind[4 + c] + co), LD(ind[8 + c] + co), LD(ind[12 + c] + co))
        A6_COLUMN(0)
        A6_COLUMN(1)
        A6_COLUMN(2)
        A6_COLUMN(3)
#define A6_ROW(i)                             \
  A6(z##i##_, h0_##i, h1_##i, h2_##i, h3_##i) \
  OUT_ROW6(Z_STORE, i, z##i##_)
#define Z_STORE(xn, v) ST(zq + (xn) * zPlane, v)
        FOR6(A6_ROW)
#undef Z_STORE
#undef A6
#undef A6_COLUMN
#undef A6_ROW
      }
      continue;
    }
    // A dy A^T of the tile's 2x2 output gradient (rows of A: (1, 0), (1, 1), (1, -1), (0, -1)).
    const float* y01 = ow + 1 < outW ? y00 + CO : zero;
    const float* y10 = oh + 1 < outH ? y00 + (long)outW * CO : zero;
    const float* y11 = oh + 1 < outH && ow + 1 < outW ? y00 + (long)(outW + 1) * CO : zero;
    for (int co = 0; co < CO; co += 4) {
      const V a0 = LD(y00 + co), a1 = LD(y01 + co), b0 = LD(y10 + co), b1 = LD(y11 + co);
      // h[i][c] = (A dy)[i][c]; then z[i][k] = (h A^T)[i][k].
      const V h00 = a0, h01 = a1, h10 = ADD(a0, b0), h11 = ADD(a1, b1);
      const V h20 = SUB(a0, b0), h21 = SUB(a1, b1), h30 = wasm_f32x4_neg(b0),
              h31 = wasm_f32x4_neg(b1);
      float* zq = z + (long)(co & ~7) * n + (co & 7);
#define Z_ROW(i)                                              \
  ST(zq + (i * 4 + 0) * zPlane, h##i##0);                     \
  ST(zq + (i * 4 + 1) * zPlane, ADD(h##i##0, h##i##1));       \
  ST(zq + (i * 4 + 2) * zPlane, SUB(h##i##0, h##i##1));       \
  ST(zq + (i * 4 + 3) * zPlane, wasm_f32x4_neg(h##i##1));
      Z_ROW(0)
      Z_ROW(1)
      Z_ROW(2)
      Z_ROW(3)
#undef Z_ROW
    }
  }
}

// Rows [u0, u1) of the n^2 sums (planes PLANE(C * CO) floats apart), row u = xn * C / 4 + ci /
// 4 (4 input channels): m[xn][ci][co]
// (+)= sum over the chunk's n tiles, in order, of vs[xn][ci][t] * zs[xn][t][co]; overwritten
// when `first`. 4 channels x 8 output channels at a time.
EXPORT(winograd_grad_products)
void winograd_grad_products(float* m, const float* vs, const float* zs, int C, int CO, int n,
                            int first, int u0, int u1) {
  const int rows = C / 4;
  for (int u = u0; u < u1; u++) {
    const int xn = u / rows, ci = u % rows * 4;
    const float* va = vs + xn * PLANE(C * n) + (long)ci * n;
    for (int co0 = 0; co0 < CO; co0 += 8) {
      float* o = m + xn * PLANE(C * CO) + (long)ci * CO + co0;
      V c00, c01, c10, c11, c20, c21, c30, c31;
      if (first) {
        c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = wasm_f32x4_splat(0.0f);
      } else {
        c00 = LD(o), c01 = LD(o + 4), c10 = LD(o + CO), c11 = LD(o + CO + 4);
        c20 = LD(o + 2 * CO), c21 = LD(o + 2 * CO + 4), c30 = LD(o + 3 * CO);
        c31 = LD(o + 3 * CO + 4);
      }
      const float* a = va;
      const float* d = zs + xn * PLANE(CO * n) + (long)co0 * n;
      for (int t = 0; t < n; t++, a += 4, d += 8) TILE_STEP(LD(a), LD(d), LD(d + 4));
      TILE_STORE(o, CO, 4);
    }
  }
}

// dw[r][c][ci][co] = (G^T m G)[r][c] for input channels [ci0, ci1), m the sums for output
// tiles of `tile` x `tile` pixels (2: rows of G^T (1, 1/2, 1/2, 0), (0, 1/2, -1/2, 0), (0,
// 1/2, 1/2, 1); 4: (1/4, -1/6, -1/6, 1/24, 1/24, 0), (0, -1/6, 1/6, 1/12, -1/12, 0), (0,
// -1/6, -1/6, 1/6, 1/6, 1)).
EXPORT(winograd_grad_filter)
void winograd_grad_filter(float* dw, const float* m, int C, int CO, int tile, int ci0, int ci1) {
  const long plane = (long)C * CO, mPlane = PLANE(C * CO);
  const V half = wasm_f32x4_splat(0.5f);
  const V r4 = wasm_f32x4_splat(1.0f / 4), r6 = wasm_f32x4_splat(1.0f / 6);
  const V r12 = wasm_f32x4_splat(1.0f / 12), r24 = wasm_f32x4_splat(1.0f / 24);
  const V m6 = wasm_f32x4_splat(-1.0f / 6);
  for (int ci = ci0; ci < ci1; ci++) {
    for (int co = 0; co < CO; co += 4) {
      const float* s = m + (long)ci * CO + co;
      float* d = dw + (long)ci * CO + co;
      if (tile == 4) {
        // q = G^T m down each column k of the 6x6 sums, then each row of q through G^T.
#define GT6(n, m0, m1, m2, m3, m4, m5)                                                  \
  const V n##a = ADD(m1, m2), n##b = SUB(m1, m2), n##c = ADD(m3, m4), n##d = SUB(m3, m4); \
  const V n##0 = ADD(ADD(MUL(m0, r4), MUL(n##a, m6)), MUL(n##c, r24));                  \
  const V n##1 = ADD(MUL(n##b, m6), MUL(n##d, r12));                                    \
  const V n##2 = ADD(ADD(MUL(n##a, m6), MUL(n##c, r6)), m5);
#define GT6_COLUMN(k)                                                                   \
  GT6(q##k##_, LD(s + (0 + k) * mPlane), LD(s + (6 + k) * mPlane),                      \
      LD(s + (12 + k) * mPlane), LD(s + (18 + k) * mPlane), LD(s + (24 + k) * mPlane),   \
      LD(s + (30 + k) * mPlane))
        GT6_COLUMN(0)
        GT6_COLUMN(1)
        GT6_COLUMN(2)
        GT6_COLUMN(3)
        GT6_COLUMN(4)
        GT6_COLUMN(5)
#define GT6_ROW(r)                                           \
  GT6(w##r##_, q0_##r, q1_##r, q2_##r, q3_##r, q4_##r, q5_##r) \
  ST(d + (r * 3 + 0) * plane, w##r##_0);                     \
  ST(d + (r * 3 + 1) * plane, w##r##_1);                     \
  ST(d + (r * 3 + 2) * plane, w##r##_2);
        GT6_ROW(0)
        GT6_ROW(1)
        GT6_ROW(2)
#undef GT6
#undef GT6_COLUMN
#undef GT6_ROW
        continue;
      }
      // q = G^T m down each column k, then (q G)[r][c].
#define GT_COLUMN(k)                                                                    \
  const V m0##k = LD(s + (0 + k) * mPlane), m1##k = LD(s + (4 + k) * mPlane),           \
          m2##k = LD(s + (8 + k) * mPlane), m3##k = LD(s + (12 + k) * mPlane);          \
  const V q0##k = ADD(m0##k, MUL(ADD(m1##k, m2##k), half)),                             \
          q1##k = MUL(SUB(m1##k, m2##k), half), q2##k = ADD(MUL(ADD(m1##k, m2##k), half), m3##k);
      GT_COLUMN(0)
      GT_COLUMN(1)
      GT_COLUMN(2)
      GT_COLUMN(3)
#undef GT_COLUMN
#define GT_ROW(r)                                                               \
  ST(d + (r * 3 + 0) * plane, ADD(q##r##0, MUL(ADD(q##r##1, q##r##2), half)));  \
  ST(d + (r * 3 + 1) * plane, MUL(SUB(q##r##1, q##r##2), half));                \
  ST(d + (r * 3 + 2) * plane, ADD(MUL(ADD(q##r##1, q##r##2), half), q##r##3));
      GT_ROW(0)
      GT_ROW(1)
      GT_ROW(2)
#undef GT_ROW
    }
  }
}
