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
// acc += a * b: relaxed SIMD's multiply-add where the build enables it (fused on CPUs with
// FMA: half the instructions), else a multiply then an add.
#ifdef __wasm_relaxed_simd__
#define MADD(acc, a, b) acc = wasm_f32x4_relaxed_madd(a, b, acc)
#else
#define MADD(acc, a, b) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a, b))
#endif

// ind[p * fh * fw + r * fw + c] = address of channel 0 of the input pixel that tap (r, c) of
// output pixel p = (b * outH + oh) * outW + ow reads, or `zero` (inC zeros) in the padding.
// Fills output pixels [p0, p1).
EXPORT(conv_indirection)
void conv_indirection(const float** ind, const float* x, const float* zero, int inH, int inW,
                      int inC, int outH, int outW, int fh, int fw, int sh, int sw, int padTop,
                      int padLeft, int p0, int p1) {
  const int taps = fh * fw;
  int ow = p0 % outW, oh = (p0 / outW) % outH, b = p0 / outW / outH;
  for (int p = p0; p < p1; p++) {
    const float** row = ind + (long)p * taps;
    for (int r = 0; r < fh; r++) {
      const int ih = oh * sh - padTop + r;
      for (int c = 0; c < fw; c++) {
        const int iw = ow * sw - padLeft + c;
        row[r * fw + c] = (ih < 0 || ih >= inH || iw < 0 || iw >= inW)
                              ? zero
                              : x + ((long)(b * inH + ih) * inW + iw) * inC;
      }
    }
    if (++ow == outW) {
      ow = 0;
      if (++oh == outH) {
        oh = 0;
        b++;
      }
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

// y[p, co] = sum over taps t and channels ci of ind[p, t][ci] * w[(t * C + ci) * CO + co]
// for output pixels [p0, p1), with the filter [fh, fw, C, CO] given as pack_panels' panels
// `wp`. CO must be a multiple of 8. Pixels go in blocks of `block` (whose inputs stay in
// cache while every 8-channel panel passes over them), then 4 pixels x 8 channels at a time.
EXPORT(conv_forward)
void conv_forward(float* y, const float* const* ind, const float* wp, int taps, int C, int CO,
                  int block, int p0, int p1) {
  const long K = (long)taps * C;
  for (int b0 = p0; b0 < p1; b0 += block) {
    const int b1 = b0 + block < p1 ? b0 + block : p1;
    for (int co0 = 0; co0 < CO; co0 += 8) {
      int p = b0;
      for (; p + 4 <= b1; p += 4) {
        const float* const* i0 = ind + (long)p * taps;
        const float* const* i1 = i0 + taps;
        const float* const* i2 = i1 + taps;
        const float* const* i3 = i2 + taps;
        V c00 = wasm_f32x4_splat(0.0f), c01 = c00, c10 = c00, c11 = c00;
        V c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        const float* wb = wp + co0 * K;
        for (int t = 0; t < taps; t++) {
          const float* a0 = i0[t];
          const float* a1 = i1[t];
          const float* a2 = i2[t];
          const float* a3 = i3[t];
          for (int ci = 0; ci < C; ci++) {
            const V b0v = LD(wb), b1v = LD(wb + 4);
            wb += 8;
            V a = SPLAT(a0 + ci);
            MADD(c00, a, b0v);
            MADD(c01, a, b1v);
            a = SPLAT(a1 + ci);
            MADD(c10, a, b0v);
            MADD(c11, a, b1v);
            a = SPLAT(a2 + ci);
            MADD(c20, a, b0v);
            MADD(c21, a, b1v);
            a = SPLAT(a3 + ci);
            MADD(c30, a, b0v);
            MADD(c31, a, b1v);
          }
        }
        float* o = y + (long)p * CO + co0;
        ST(o, c00);
        ST(o + 4, c01);
        ST(o + CO, c10);
        ST(o + CO + 4, c11);
        ST(o + 2 * CO, c20);
        ST(o + 2 * CO + 4, c21);
        ST(o + 3 * CO, c30);
        ST(o + 3 * CO + 4, c31);
      }
      for (; p < b1; p++) {
        const float* const* i0 = ind + (long)p * taps;
        V c00 = wasm_f32x4_splat(0.0f), c01 = c00;
        const float* wb = wp + co0 * K;
        for (int t = 0; t < taps; t++) {
          const float* a0 = i0[t];
          for (int ci = 0; ci < C; ci++) {
            const V a = SPLAT(a0 + ci);
            MADD(c00, a, LD(wb));
            MADD(c01, a, LD(wb + 4));
            wb += 8;
          }
        }
        float* o = y + (long)p * CO + co0;
        ST(o, c00);
        ST(o + 4, c01);
      }
    }
  }
}

// Filter gradient rows [k0, k1) (row k = t * C + ci of dw [fh, fw, C, CO]):
// dw[k, co] (+)= sum over output pixels p in [p0, p1) of ind[p, t][ci] * dy[p, co], summed in
// pixel order in blocks of `block` pixels; the rows are overwritten unless `accumulate`.
// CO must be a multiple of 8. Each block of dy is first copied to `pack` (block * CO floats,
// the caller's own) as 8-channel panels, which the tiles then read in order.
EXPORT(conv_filter_grad)
void conv_filter_grad(float* dw, const float* const* ind, const float* dy, float* pack, int taps,
                      int C, int CO, int p0, int p1, int block, int k0, int k1, int accumulate) {
  for (int b0 = p0; b0 < p1; b0 += block) {
    const int b1 = b0 + block < p1 ? b0 + block : p1;
    const int bn = b1 - b0;
    for (int co0 = 0; co0 < CO; co0 += 8) {
      float* d = pack + (long)co0 * bn;
      const float* s = dy + (long)b0 * CO + co0;
      for (int j = 0; j < bn; j++, d += 8, s += CO) {
        ST(d, LD(s));
        ST(d + 4, LD(s + 4));
      }
    }
    for (int k = k0; k < k1; k += 4) {
      const int rows = k1 - k < 4 ? k1 - k : 4;
      // Rows past k1 repeat row k (computed, not stored).
      const int t0 = k / C, d0 = k % C;
      const int t1 = rows > 1 ? (k + 1) / C : t0, d1 = rows > 1 ? (k + 1) % C : d0;
      const int t2 = rows > 2 ? (k + 2) / C : t0, d2 = rows > 2 ? (k + 2) % C : d0;
      const int t3 = rows > 3 ? (k + 3) / C : t0, d3 = rows > 3 ? (k + 3) % C : d0;
      const int sameTap = t0 == t3 && rows == 4;
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
        const float* const* ip = ind + (long)b0 * taps;
        if (sameTap) {
          for (int p = b0; p < b1; p++) {
            const V b0v = LD(d), b1v = LD(d + 4);
            d += 8;
            // One load for the 4 rows' inputs (channels d0..d0+3 of one tap), each then
            // broadcast by a shuffle: Deno's V8 checks every memory access against the
            // memory's bounds (no trap handler), so fewer, wider loads run faster (filter
            // gradient 31 -> 44 GFLOP/s on one thread against 4 scalar broadcasts).
            const V a = LD(ip[t0] + d0);
            ip += taps;
            V s = LANE(a, 0);
            MADD(c00, s, b0v);
            MADD(c01, s, b1v);
            s = LANE(a, 1);
            MADD(c10, s, b0v);
            MADD(c11, s, b1v);
            s = LANE(a, 2);
            MADD(c20, s, b0v);
            MADD(c21, s, b1v);
            s = LANE(a, 3);
            MADD(c30, s, b0v);
            MADD(c31, s, b1v);
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
        ST(o, c00);
        ST(o + 4, c01);
        if (rows > 1) {
          ST(o + CO, c10);
          ST(o + CO + 4, c11);
        }
        if (rows > 2) {
          ST(o + 2 * CO, c20);
          ST(o + 2 * CO + 4, c21);
        }
        if (rows > 3) {
          ST(o + 3 * CO, c30);
          ST(o + 3 * CO + 4, c31);
        }
      }
    }
  }
}
