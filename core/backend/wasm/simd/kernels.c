// convdeck's SIMD helpers for tfjs-backend-wasm's training kernels.
//
// Built (see build.ts) into a small WebAssembly module that imports the SAME
// WebAssembly.Memory as tfjs-backend-wasm, so these functions work on tensors in place
// (pointers are byte offsets into tfjs's heap). The module must own nothing in that memory:
// no data segments, no static variables, no stack (build.ts checks the binary for this),
// so every function here uses only locals and the pointers it is given.
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

// out[i] = y[i] > 0 ? dy[i] : 0 (ReLU gradient from the ReLU's output) for i in [i0, i1).
EXPORT(relu_grad)
void relu_grad(float* out, const float* dy, const float* y, int i0, int i1) {
  const v128_t zero = wasm_f32x4_splat(0.0f);
  int i = i0;
  for (; i + 4 <= i1; i += 4) {
    v128_t m = wasm_f32x4_gt(wasm_v128_load(y + i), zero);
    wasm_v128_store(out + i, wasm_v128_and(wasm_v128_load(dy + i), m));
  }
  for (; i < i1; i++) out[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

// out[c] = sum over r of x[r * width + c] for columns c in [c0, c1), summed in row order
// (float32 accumulator). Each 16 columns are summed in registers down all the rows and stored
// once, so threads that split the columns never write the same cache line row after row.
EXPORT(sum_rows)
void sum_rows(float* out, const float* x, int rows, int width, int c0, int c1) {
  int c = c0;
  for (; c + 16 <= c1; c += 16) {
    v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
    const float* p = x + c;
    for (int r = 0; r < rows; r++, p += width) {
      a0 = wasm_f32x4_add(a0, wasm_v128_load(p));
      a1 = wasm_f32x4_add(a1, wasm_v128_load(p + 4));
      a2 = wasm_f32x4_add(a2, wasm_v128_load(p + 8));
      a3 = wasm_f32x4_add(a3, wasm_v128_load(p + 12));
    }
    wasm_v128_store(out + c, a0);
    wasm_v128_store(out + c + 4, a1);
    wasm_v128_store(out + c + 8, a2);
    wasm_v128_store(out + c + 12, a3);
  }
  for (; c + 4 <= c1; c += 4) {
    v128_t a = wasm_f32x4_splat(0.0f);
    const float* p = x + c;
    for (int r = 0; r < rows; r++, p += width) a = wasm_f32x4_add(a, wasm_v128_load(p));
    wasm_v128_store(out + c, a);
  }
  for (; c < c1; c++) {
    float a = 0.0f;
    const float* p = x + c;
    for (int r = 0; r < rows; r++, p += width) a += *p;
    out[c] = a;
  }
}

// dst[i] += src[i].
EXPORT(add_into)
void add_into(float* dst, const float* src, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    wasm_v128_store(dst + i, wasm_f32x4_add(wasm_v128_load(dst + i), wasm_v128_load(src + i)));
  }
  for (; i < n; i++) dst[i] += src[i];
}

// Pixel cursor over output pixels p = (b * outH + oh) * outW + ow.
typedef struct {
  int b, oh, ow;
} Cursor;

// Address of channel 0 of tap (r, c) of the cursor's pixel (0 in the padding); advances it.
static inline const float* tap_src(Cursor* p, const float* x, int inH, int inW, int inC,
                                   int outH, int outW, int sh, int sw, int ihOff, int iwOff) {
  int ih = p->oh * sh + ihOff, iw = p->ow * sw + iwOff;
  const float* s = (ih < 0 || ih >= inH || iw < 0 || iw >= inW)
                       ? 0
                       : x + ((long)(p->b * inH + ih) * inW + iw) * inC;
  if (++p->ow == outW) {
    p->ow = 0;
    if (++p->oh == outH) {
      p->oh = 0;
      p->b++;
    }
  }
  return s;
}

// Transposed im2col of output pixels [p0, p0 + pb) of x (NHWC): col is [K, pb] with row
// k = (r * fw + c) * inC + d, zero where the tap falls in the padding.
EXPORT(im2col_t)
void im2col_t(const float* x, float* col, int inH, int inW, int inC, int outH, int outW,
              int fh, int fw, int sh, int sw, int padTop, int padLeft, int p0, int pb) {
  const v128_t zero = wasm_f32x4_splat(0.0f);
  const int vecC = inC & ~3;
  for (int r = 0; r < fh; r++) {
    for (int c = 0; c < fw; c++) {
      float* tapCol = col + (long)((r * fw + c) * inC) * pb;
      const int ihOff = r - padTop, iwOff = c - padLeft;
      Cursor cur;
      cur.ow = p0 % outW;
      cur.oh = (p0 / outW) % outH;
      cur.b = p0 / outW / outH;
      int j = 0;
      for (; j + 4 <= pb; j += 4) {
        const float* s0 = tap_src(&cur, x, inH, inW, inC, outH, outW, sh, sw, ihOff, iwOff);
        const float* s1 = tap_src(&cur, x, inH, inW, inC, outH, outW, sh, sw, ihOff, iwOff);
        const float* s2 = tap_src(&cur, x, inH, inW, inC, outH, outW, sh, sw, ihOff, iwOff);
        const float* s3 = tap_src(&cur, x, inH, inW, inC, outH, outW, sh, sw, ihOff, iwOff);
        int d = 0;
        for (; d < vecC; d += 4) {
          v128_t v0 = s0 ? wasm_v128_load(s0 + d) : zero;
          v128_t v1 = s1 ? wasm_v128_load(s1 + d) : zero;
          v128_t v2 = s2 ? wasm_v128_load(s2 + d) : zero;
          v128_t v3 = s3 ? wasm_v128_load(s3 + d) : zero;
          v128_t t0 = wasm_i32x4_shuffle(v0, v1, 0, 4, 1, 5);
          v128_t t1 = wasm_i32x4_shuffle(v2, v3, 0, 4, 1, 5);
          v128_t t2 = wasm_i32x4_shuffle(v0, v1, 2, 6, 3, 7);
          v128_t t3 = wasm_i32x4_shuffle(v2, v3, 2, 6, 3, 7);
          float* dst = tapCol + (long)d * pb + j;
          wasm_v128_store(dst, wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5));
          wasm_v128_store(dst + pb, wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));
          wasm_v128_store(dst + 2 * (long)pb, wasm_i32x4_shuffle(t2, t3, 0, 1, 4, 5));
          wasm_v128_store(dst + 3 * (long)pb, wasm_i32x4_shuffle(t2, t3, 2, 3, 6, 7));
        }
        for (; d < inC; d++) {
          float* dst = tapCol + (long)d * pb + j;
          dst[0] = s0 ? s0[d] : 0.0f;
          dst[1] = s1 ? s1[d] : 0.0f;
          dst[2] = s2 ? s2[d] : 0.0f;
          dst[3] = s3 ? s3[d] : 0.0f;
        }
      }
      for (; j < pb; j++) {
        const float* s = tap_src(&cur, x, inH, inW, inC, outH, outW, sh, sw, ihOff, iwOff);
        for (int d = 0; d < inC; d++) tapCol[(long)d * pb + j] = s ? s[d] : 0.0f;
      }
    }
  }
}

// MaxPool gradient (NHWC) of images [b0, b1): each dy goes to the first maximum of its window
// in row-major order (strictly greater replaces), nowhere when no value exceeds -Infinity. The
// images' dx is zeroed first.
EXPORT(max_pool_grad)
void max_pool_grad(float* dx, const float* x, const float* dy, int inH, int inW, int C,
                   int outH, int outW, int fh, int fw, int sh, int sw, int top, int left, int b0,
                   int b1) {
  const long image = (long)inH * inW * C;
  for (long i = b0 * image; i < b1 * image; i++) dx[i] = 0.0f;
  const int vecC = C & ~3;
  const v128_t lanes = wasm_i32x4_make(0, 1, 2, 3);
  for (int b = b0; b < b1; b++) {
    const long img = (long)b * inH * inW * C;
    for (int oh = 0; oh < outH; oh++) {
      int r0 = oh * sh - top, r1 = oh * sh - top + fh;
      if (r0 < 0) r0 = 0;
      if (r1 > inH) r1 = inH;
      for (int ow = 0; ow < outW; ow++) {
        int c0 = ow * sw - left, c1 = ow * sw - left + fw;
        if (c0 < 0) c0 = 0;
        if (c1 > inW) c1 = inW;
        const float* g = dy + (((long)b * outH + oh) * outW + ow) * C;
        int d = 0;
        for (; d < vecC; d += 4) {
          v128_t best = wasm_f32x4_splat(-__builtin_inff());
          v128_t at = wasm_i32x4_splat(-1);
          for (int r = r0; r < r1; r++) {
            for (int c = c0; c < c1; c++) {
              int p = (int)(img + ((long)r * inW + c) * C + d);
              v128_t v = wasm_v128_load(x + p);
              v128_t m = wasm_f32x4_gt(v, best);
              best = wasm_v128_bitselect(v, best, m);
              at = wasm_v128_bitselect(wasm_i32x4_add(wasm_i32x4_splat(p), lanes), at, m);
            }
          }
          int a0 = wasm_i32x4_extract_lane(at, 0), a1 = wasm_i32x4_extract_lane(at, 1);
          int a2 = wasm_i32x4_extract_lane(at, 2), a3 = wasm_i32x4_extract_lane(at, 3);
          if (a0 >= 0) dx[a0] += g[d];
          if (a1 >= 0) dx[a1] += g[d + 1];
          if (a2 >= 0) dx[a2] += g[d + 2];
          if (a3 >= 0) dx[a3] += g[d + 3];
        }
        for (; d < C; d++) {
          float best = -__builtin_inff();
          long at = -1;
          for (int r = r0; r < r1; r++) {
            for (int c = c0; c < c1; c++) {
              long p = img + ((long)r * inW + c) * C + d;
              if (x[p] > best) {
                best = x[p];
                at = p;
              }
            }
          }
          if (at >= 0) dx[at] += g[d];
        }
      }
    }
  }
}

// One Adam step over every variable (core/backend/fused_adam.ts builds the arguments), with the
// float32 operations, in the order, of tfjs's AdamOptimizer (so the same numbers, to the bit):
// p = [lr, beta1, beta2, epsilon, 1 - beta1, 1 - beta2, count]; o = [acc1, acc2, acc1', acc2',
// then per variable w, g, m, v, w', m', v', n] as byte offsets (all float64). This call does
// parts [f0, f1) of `parts` equal parts of every variable's elements (parts start at multiples
// of 4 elements); the call with f0 == 0 also writes the beta powers.
EXPORT(adam)
void adam(const double* p, const double* o, int f0, int f1, int parts) {
  const float nlr = (float)(-p[0]), b1 = (float)p[1], b2 = (float)p[2], eps = (float)p[3];
  const float c1 = (float)p[4], c2 = (float)p[5];
  const int nv = (int)p[6];
  const float acc1 = *(const float*)(uintptr_t)o[0];
  const float acc2 = *(const float*)(uintptr_t)o[1];
  const float oma1 = 1.f - acc1, oma2 = 1.f - acc2;
  const v128_t vb1 = wasm_f32x4_splat(b1), vb2 = wasm_f32x4_splat(b2);
  const v128_t vc1 = wasm_f32x4_splat(c1), vc2 = wasm_f32x4_splat(c2);
  const v128_t voma1 = wasm_f32x4_splat(oma1), voma2 = wasm_f32x4_splat(oma2);
  const v128_t veps = wasm_f32x4_splat(eps), vnlr = wasm_f32x4_splat(nlr);
  for (int k = 0; k < nv; k++) {
    const double* q = o + 4 + 8 * k;
    const float* w = (const float*)(uintptr_t)q[0];
    const float* g = (const float*)(uintptr_t)q[1];
    const float* m = (const float*)(uintptr_t)q[2];
    const float* v = (const float*)(uintptr_t)q[3];
    float* w2 = (float*)(uintptr_t)q[4];
    float* m2 = (float*)(uintptr_t)q[5];
    float* v2 = (float*)(uintptr_t)q[6];
    const int n = (int)q[7];
    // Parts start at multiples of 4 elements.
    const int i0 = (int)((long long)n * f0 / parts) & ~3;
    const int i1 = f1 == parts ? n : (int)((long long)n * f1 / parts) & ~3;
    int i = i0;
    for (; i + 4 <= i1; i += 4) {
      const v128_t gi = wasm_v128_load(g + i);
      const v128_t mi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(m + i), vb1),
                                       wasm_f32x4_mul(gi, vc1));
      const v128_t vi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v + i), vb2),
                                       wasm_f32x4_mul(wasm_f32x4_mul(gi, gi), vc2));
      const v128_t mh = wasm_f32x4_div(mi, voma1), vh = wasm_f32x4_div(vi, voma2);
      const v128_t step = wasm_f32x4_div(mh, wasm_f32x4_add(wasm_f32x4_sqrt(vh), veps));
      const v128_t wi = wasm_f32x4_add(wasm_f32x4_mul(step, vnlr), wasm_v128_load(w + i));
      wasm_v128_store(m2 + i, mi);
      wasm_v128_store(v2 + i, vi);
      wasm_v128_store(w2 + i, wi);
    }
    for (; i < i1; i++) {
      const float gi = g[i];
      const float mi = m[i] * b1 + gi * c1;
      const float vi = v[i] * b2 + (gi * gi) * c2;
      m2[i] = mi;
      v2[i] = vi;
      const float mh = mi / oma1, vh = vi / oma2;
      w2[i] = (mh / (__builtin_sqrtf(vh) + eps)) * nlr + w[i];
    }
  }
  if (f0 == 0) {
    *(float*)(uintptr_t)o[2] = acc1 * b1;
    *(float*)(uintptr_t)o[3] = acc2 * b2;
  }
}
