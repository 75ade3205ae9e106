# Cython view of fx_bf16.h: the bfloat16 matrix products of the linear
# head (AVX512-BF16).  cimported by _kernels only.

from libc.stdint cimport uint16_t

cdef extern from "fx_bf16.h" nogil:
    int FX_BF16_NR
    int fx_bf16_cpu()
    int fx_bf16_ready()
    void fx_bf16_gemm(long M, long N, long K, const uint16_t *A, long ars, long aks, const uint16_t *Bs,
                      long sk, long sn, float *C, long ldc, int acc, int nthreads)
    void fx_bf16_rows(long M, long N, const float *G, long ldg, uint16_t *out, long ldo, int nthreads)
    void fx_bf16_pairs(long M, long N, const float *G, long ldg, uint16_t *out, int nthreads)
