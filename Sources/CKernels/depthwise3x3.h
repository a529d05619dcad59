/* depthwise3x3.h — private to CKernels: the AVX-512F row kernel behind dx_depthwise_nhwc for 3x3
 * stride-1 kernels. Computes output rows [oy0, oy1) of one image (in [h][w][c], out [oh][ow][c],
 * weights [9][c]); returns 0 without touching `out` where AVX-512F is missing. */
#ifndef DX_DEPTHWISE3X3_H
#define DX_DEPTHWISE3X3_H

int dx_depthwise3x3_s1_rows(const float *src, int h, int w, int c, const float *weights, const float *bias,
                            int pad_top, int pad_left, int oy0, int oy1, int ow, int activation, float *out);

#endif
