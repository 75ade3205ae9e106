/* fx_simde_shim.h -- AVX-512 functions the AVX-512 vocabulary uses that SIMDe
 * (0.8.2) does not provide -- element-wise conversions, masked gathers, a
 * horizontal sum -- or provides with other semantics than Intel's: its
 * masked stores write zeros to the masked-off lanes and its masked loads
 * read them (past the end of a row or an array).  Written lane by lane,
 * for the SIMDe test build only (FX_SIMDE); speed does not matter here. */
#ifndef FX_SIMDE_SHIM_H
#define FX_SIMDE_SHIM_H

#define FX_SHIM static inline __attribute__((unused))

FX_SHIM simde__m512d fx_shim_cvtps_pd(simde__m256 a)
{
    float f[8];
    double d[8];
    simde_mm256_storeu_ps(f, a);
    for (int i = 0; i < 8; i++) d[i] = (double)f[i];
    return simde_mm512_loadu_pd(d);
}
#define simde_mm512_cvtps_pd fx_shim_cvtps_pd

FX_SHIM simde__m256 fx_shim_cvtpd_ps(simde__m512d a)
{
    double d[8];
    float f[8];
    simde_mm512_storeu_pd(d, a);
    for (int i = 0; i < 8; i++) f[i] = (float)d[i];       /* round to nearest even */
    return simde_mm256_loadu_ps(f);
}
#define simde_mm512_cvtpd_ps fx_shim_cvtpd_ps

FX_SHIM simde__m512i fx_shim_cvtepi32_epi64(simde__m256i a)
{
    int32_t s[8];
    int64_t d[8];
    simde_mm256_storeu_si256((simde__m256i *)s, a);
    for (int i = 0; i < 8; i++) d[i] = s[i];
    return simde_mm512_loadu_si512(d);
}
#define simde_mm512_cvtepi32_epi64 fx_shim_cvtepi32_epi64

FX_SHIM simde__m256i fx_shim_cvttpd_epi32(simde__m512d a)
{
    double d[8];
    int32_t s[8];
    simde_mm512_storeu_pd(d, a);
    for (int i = 0; i < 8; i++)
        s[i] = (d[i] > -2147483649.0 && d[i] < 2147483648.0) ? (int32_t)d[i] : INT32_MIN;
    return simde_mm256_loadu_si256((const simde__m256i *)s);
}
#define simde_mm512_cvttpd_epi32 fx_shim_cvttpd_epi32

FX_SHIM simde__m512 fx_shim_mask_i32gather_ps(simde__m512 src, simde__mmask16 k, simde__m512i idx,
                                              const void *base, int scale)
{
    float r[16];
    int32_t ix[16];
    simde_mm512_storeu_ps(r, src);
    simde_mm512_storeu_si512(ix, idx);
    for (int i = 0; i < 16; i++)
        if (k & (1u << i)) memcpy(&r[i], (const char *)base + (ptrdiff_t)ix[i] * scale, 4);
    return simde_mm512_loadu_ps(r);
}
#define simde_mm512_mask_i32gather_ps fx_shim_mask_i32gather_ps

FX_SHIM simde__m512d fx_shim_mask_i32gather_pd(simde__m512d src, simde__mmask8 k, simde__m256i idx,
                                               const void *base, int scale)
{
    double r[8];
    int32_t ix[8];
    simde_mm512_storeu_pd(r, src);
    simde_mm256_storeu_si256((simde__m256i *)ix, idx);
    for (int i = 0; i < 8; i++)
        if (k & (1u << i)) memcpy(&r[i], (const char *)base + (ptrdiff_t)ix[i] * scale, 8);
    return simde_mm512_loadu_pd(r);
}
#define simde_mm512_mask_i32gather_pd fx_shim_mask_i32gather_pd

FX_SHIM double fx_shim_reduce_add_pd(simde__m512d a)
{
    double d[8];
    simde_mm512_storeu_pd(d, a);
    return ((d[0] + d[4]) + (d[2] + d[6])) + ((d[1] + d[5]) + (d[3] + d[7]));
}
#define simde_mm512_reduce_add_pd fx_shim_reduce_add_pd

FX_SHIM simde__m512 fx_shim_mask_loadu_ps(simde__m512 src, simde__mmask16 k, const void *p)
{
    float r[16];
    simde_mm512_storeu_ps(r, src);
    for (int i = 0; i < 16; i++)
        if (k & (1u << i)) memcpy(&r[i], (const float *)p + i, 4);
    return simde_mm512_loadu_ps(r);
}
#define simde_mm512_mask_loadu_ps fx_shim_mask_loadu_ps

FX_SHIM simde__m512d fx_shim_mask_loadu_pd(simde__m512d src, simde__mmask8 k, const void *p)
{
    double r[8];
    simde_mm512_storeu_pd(r, src);
    for (int i = 0; i < 8; i++)
        if (k & (1u << i)) memcpy(&r[i], (const double *)p + i, 8);
    return simde_mm512_loadu_pd(r);
}
#define simde_mm512_mask_loadu_pd fx_shim_mask_loadu_pd

FX_SHIM void fx_shim_mask_storeu_ps(void *p, simde__mmask16 k, simde__m512 a)
{
    float r[16];
    simde_mm512_storeu_ps(r, a);
    for (int i = 0; i < 16; i++)
        if (k & (1u << i)) memcpy((float *)p + i, &r[i], 4);
}
#define simde_mm512_mask_storeu_ps fx_shim_mask_storeu_ps

FX_SHIM void fx_shim_mask_storeu_pd(void *p, simde__mmask8 k, simde__m512d a)
{
    double r[8];
    simde_mm512_storeu_pd(r, a);
    for (int i = 0; i < 8; i++)
        if (k & (1u << i)) memcpy((double *)p + i, &r[i], 8);
}
#define simde_mm512_mask_storeu_pd fx_shim_mask_storeu_pd

#endif /* FX_SIMDE_SHIM_H */
