/* depthwise_rows.h — private to CKernels: the AVX-512F row kernels behind dx_depthwise_nhwc for
 * 3x3 and 5x5 kernels, stride 1 or 2. Computes output rows [oy0, oy1) of one image (in [h][w][c],
 * out [oh][ow][c], weights [k*k][c]); returns 0 without touching `out` for other kernels or where
 * AVX-512F is missing. */
#ifndef DX_DEPTHWISE_ROWS_H
#define DX_DEPTHWISE_ROWS_H

int dx_depthwise_rows(const float *src, int h, int w, int c, const float *weights, const float *bias, int k, int stride,
                      int pad_top, int pad_left, int oy0, int oy1, int ow, int activation, float *out);

#endif
