/* fx_rows.h -- the portable bodies of the row operations of fx_ops.def
 * (statistics, the plain forward loss, the row writes of softmax and the
 * gradients, the soft-target sums), plain C loops GCC vectorizes (the
 * design: fx_kernels.h).  An operation already defined with intrinsics
 * for this path (fx_simd_*.h sets FX_HAS_<name>) is skipped here.
 * Contracts: above each body. */

#ifndef FX_HAS_rowmax
/* Row maximum, NaN skipped (the callers find NaN rows through the sum). */
static FX_T FN(rowmax)(const FX_T *x, ptrdiff_t n)
{
    FX_T m = -FX_INF;
#pragma omp simd reduction(max:m)
    for (ptrdiff_t j = 0; j < n; j++) m = x[j] > m ? x[j] : m;
    /* OpenMP starts a max reduction's private lanes at the type's lowest
     * value, which clang takes to be -FLT_MAX / -DBL_MAX (GCC: -inf): a row
     * of -inf (or empty) then reads that value.  Where the maximum is
     * exactly it, one pass tells whether an element is. */
    if (m == -FX_MAXV) {
        int hit = 0;
        for (ptrdiff_t j = 0; j < n; j++) hit |= x[j] == m;
        if (!hit) m = -FX_INF;
    }
    return m;
}
#endif

/* sum_j exp(x_j - m) for x_j <= m (m finite), terms added in FX_T within
 * blocks of 64 (8 terms per vector lane at most: error < 1e-6 relative in
 * float) and the block sums in double, so long rows lose nothing.
 * sumexp flushes terms below the normal range (FLT_MIN, DBL_MIN) to 0,
 * invisible unless the whole sum is within a few thousand of them: then
 * row_stats redoes the row with sumexp_exact, whose exp keeps subnormal
 * results (a loss of 1e-30 over 10^4 classes is made of terms that
 * small).  pf: the next row, prefetched while this one computes. */
#define FX_SUMEXP_BODY(EXPF)                                                   \
    double s = 0.0;                                                           \
    ptrdiff_t j = 0;                                                          \
    for (; j + 64 <= n; j += 64) {                                            \
        FX_T b = 0;                                                           \
        if (pf)                                                               \
            for (int q = 0; q < 64; q += 64 / (int)sizeof(FX_T)) FX_PREFETCH(pf + j + q, FX_PF_LOCALITY); \
        _Pragma("omp simd reduction(+:b)")                                    \
        for (int k = 0; k < 64; k++) b += EXPF(x[j + k] - m);                 \
        s += (double)b;                                                       \
    }                                                                         \
    FX_T b = 0;                                                               \
    _Pragma("omp simd reduction(+:b)")                                        \
    for (ptrdiff_t k = j; k < n; k++) b += EXPF(x[k] - m);                    \
    return s + (double)b;

static double FN(sumexp_pf)(const FX_T *x, ptrdiff_t n, FX_T m, const FX_T *pf)
{
    FX_SUMEXP_BODY(EXPFAST)
}

static double FN(sumexp_exact)(const FX_T *x, ptrdiff_t n, FX_T m, const FX_T *pf)
{
    FX_SUMEXP_BODY(EXPNEG)
}
#undef FX_SUMEXP_BODY

#ifndef FX_HAS_sumexp_skip
/* sum over j != k of exp(x_j - m), flushing (k < 0 or >= n: all terms). */
static double FN(sumexp_skip)(const FX_T *x, ptrdiff_t n, FX_T m, ptrdiff_t k, const FX_T *pf)
{
    if (k < 0 || k >= n)
        return FN(sumexp_pf)(x, n, m, pf);
    return FN(sumexp_pf)(x, k, m, pf) + FN(sumexp_pf)(x + k + 1, n - k - 1, m, pf ? pf + k + 1 : NULL);
}
#endif

/* The exp-sum primitive on its own: sum_j exp(x_j - m), flushing. */
static double FN(sumexp)(const FX_T *x, ptrdiff_t n, FX_T m)
{
    return FN(sumexp_skip)(x, n, m, -1, NULL);
}

#ifndef FX_HAS_first_eq
/* First j with x_j == m (m finite), or -1: argmax with NumPy's tie rule.
 * Scans 64 elements at a time with a vectorized any(), then finishes
 * element by element inside the block that matched. */
static ptrdiff_t FN(first_eq)(const FX_T *x, ptrdiff_t n, FX_T m)
{
    ptrdiff_t j = 0;
    for (; j + 64 <= n; j += 64) {
        int any = 0;
#pragma omp simd reduction(|:any)
        for (int k = 0; k < 64; k++) any |= x[j + k] == m;
        if (any) break;
    }
    for (; j < n; j++)
        if (x[j] == m) return j;
    return -1;
}
#endif

/* out_j = a exp(x_j - m) - b w_j (w NULL: w_j = 1).  out may alias x. */
#ifndef FX_HAS_exp_affine
static void FN(exp_affine)(const FX_T *x, FX_T *out, ptrdiff_t n, FX_T m,
                           double a, const double *w, double b)
{
    const FX_T ta = (FX_T)a;
    if (w == NULL) {
        const FX_T tb = (FX_T)b;
#pragma omp simd
        for (ptrdiff_t j = 0; j < n; j++) out[j] = ta * EXPFAST(x[j] - m) - tb;
    } else {
#pragma omp simd
        for (ptrdiff_t j = 0; j < n; j++)
            out[j] = ta * EXPFAST(x[j] - m) - (FX_T)(b * w[j]);
    }
}
#endif

/* ================================================================ row statistics */

/* What to prefetch while row xr computes (fx_stats.pfd): the same row of
 * the next block's raw logits when the driver set pfd, else dflt. */
#define FX_PF_ROW(st, xr, dflt) ((st)->pfd ? (const FX_T *)FX_PF_AT(xr, (st)->pfd) : (dflt))

/* sum of exp(x_j - m) over j != k (m = x[k] is the maximum).  The fast sum
 * drops terms below the normal range; when the sum is small enough for n
 * of them to matter at 1e-7 (float) or 1e-16 (double) relative, the row
 * is summed again with subnormals kept. */
static double FN(sum_rest)(const FX_T *x, ptrdiff_t n, FX_T m, ptrdiff_t k, const FX_T *pf)
{
    double s = FN(sumexp_skip)(x, n, m, k, pf);
    if (s < (double)n * FX_FLUSH_GUARD)
        s = FN(sumexp_exact)(x, k, m, NULL) + FN(sumexp_exact)(x + k + 1, n - k - 1, m, NULL);
    return s;
}

/* m, k, s of one row (see fx_stats).  A row that fits in cache takes two
 * passes (max, then sums) over memory read from DRAM once.  A longer row
 * is read once in chunks that stay in cache, with a running (m, k, s):
 * when a chunk holds a larger maximum, s <- (s + 1) exp(m_old - m_new) +
 * its own sum (the old maximum joins the rest), so the excluded term is
 * still exactly the first maximum.  Rows whose maximum is not finite:
 * NaN anywhere -> m = NaN, k = first NaN; all -inf -> m = -inf; a +inf ->
 * m = +inf, k = first +inf; s = NaN for all of them. */
static void FN(stats_row)(const FX_T *x, ptrdiff_t n, const FX_T *pf, ptrdiff_t pfd, double *m_out,
                          double *s_out, int64_t *k_out)
{
    FX_T m;
    ptrdiff_t k = 0;
    double s = 0.0;
    if (n <= FX_ONLINE_CHUNK) {
        m = FN(rowmax)(x, n);
    } else {
        m = -FX_INF;
        for (ptrdiff_t c0 = 0; c0 < n; c0 += FX_ONLINE_CHUNK) {
            ptrdiff_t cn = n - c0 < FX_ONLINE_CHUNK ? n - c0 : FX_ONLINE_CHUNK;
            /* the next chunk (or row) streams in while this one's sum
             * computes: the max pass alone keeps the hardware prefetcher
             * running, the sum reads from cache */
            const FX_T *next = pfd ? (const FX_T *)FX_PF_AT(x + c0, pfd)        /* fx_stats.pfd */
                                   : c0 + cn < n ? x + c0 + cn : pf;
            FX_T mc = FN(rowmax)(x + c0, cn);
            if (!isfinite(mc)) {
                if (isnan(mc) || mc > 0) { m = mc; break; }     /* NaN or +inf: special row */
                int nan = 0;                                    /* all -inf, unless a NaN hides from the max */
                for (ptrdiff_t j = 0; j < cn; j++) nan |= isnan(x[c0 + j]);
                if (nan) { m = (FX_T)NAN; break; }
            } else if (mc > m) {
                ptrdiff_t kc = FN(first_eq)(x + c0, cn, mc);
                s = m > -FX_INF ? (s + 1.0) * exp((double)m - (double)mc) : 0.0;
                s += FN(sum_rest)(x + c0, cn, mc, kc, next);
                m = mc;
                k = c0 + kc;
            } else {
                s += FN(sumexp_skip)(x + c0, cn, m, -1, next);
            }
        }
        if (isfinite(m) && !isnan(s)) {
            if (s < (double)n * FX_FLUSH_GUARD)
                s = FN(sum_rest)(x, n, m, k, NULL);   /* tiny: redo with subnormal terms kept */
            *m_out = m; *k_out = k; *s_out = s;
            return;
        }
        if (isnan(s)) m = (FX_T)NAN;
        if (!isnan(m) && m < 0) m = FN(rowmax)(x, n);   /* all -inf so far: recheck the whole row */
    }
    if (isfinite(m)) {
        k = FN(first_eq)(x, n, m);
        s = FN(sum_rest)(x, n, m, k, pf);
        if (!isnan(s)) {                    /* a NaN the max skipped reaches the sum */
            *m_out = m; *k_out = k; *s_out = s;
            return;
        }
        m = (FX_T)NAN;
    }
    *s_out = NAN;
    for (ptrdiff_t j = 0; j < n; j++)       /* NumPy's argmax of a row with NaN: the first NaN */
        if (isnan(x[j])) { *m_out = NAN; *k_out = j; return; }
    *m_out = m;
    k = isnan(m) ? -1 : FN(first_eq)(x, n, m);
    *k_out = k < 0 ? 0 : k;
}

#ifndef FX_HAS_stats_small
/* m, k, s for a group of up to FX_GROUP rows of n <= FX_SMALL_C classes,
 * vectorized across rows (a row of 10 is too short to vectorize along):
 * the group is transposed into a small tile, then max, first argmax and
 * the sum of exp(x_j - m) over j != argmax run as vector loops over rows.
 * Rows whose maximum is not finite come out with s = NaN, and rows whose
 * sum is small enough for flushed terms to matter are below the flush
 * guard: row_stats redoes both with stats_row. */
static void FN(stats_small)(const FX_T *x, ptrdiff_t rows, ptrdiff_t n,
                            double *m_out, double *s_out, int64_t *k_out, ptrdiff_t pfd)
{
    (void)pfd;                  /* the portable path leaves prefetching to the hardware */
    FX_T xt[FX_SMALL_C][FX_GROUP];
    FX_T mm[FX_GROUP];
    int32_t kk[FX_GROUP];
    double ss[FX_GROUP];
    /* class-major: contiguous vector stores of strided loads (measured
     * faster than the row-major scalar copy for 2..32 classes) */
    for (ptrdiff_t j = 0; j < n; j++) {
#pragma omp simd
        for (ptrdiff_t r = 0; r < rows; r++) xt[j][r] = x[r * n + j];
        for (ptrdiff_t r = rows; r < FX_GROUP; r++) xt[j][r] = 0;
    }
#pragma omp simd
    for (int r = 0; r < FX_GROUP; r++) { mm[r] = xt[0][r]; kk[r] = 0; ss[r] = 0.0; }
    for (int32_t j = 1; j < (int32_t)n; j++) {
#pragma omp simd
        for (int r = 0; r < FX_GROUP; r++) {
            FX_T v = xt[j][r];
            /* a mask, not a select: GCC turns `kk = gt ? j : kk` into a
             * branch around a masked store, mispredicted on random rows */
            int32_t gt = -(int32_t)(v > mm[r]);
            kk[r] = (kk[r] & ~gt) | (j & gt);
            mm[r] = v > mm[r] ? v : mm[r];
        }
    }
    /* terms added in FX_T over runs of up to 16 classes (< 16 roundings:
     * < 1e-6 relative in float, as in sumexp), the runs in double */
    for (int32_t j0 = 0; j0 < (int32_t)n; j0 += 16) {
        FX_T sf[FX_GROUP];
        int32_t j1 = j0 + 16 < (int32_t)n ? j0 + 16 : (int32_t)n;
#pragma omp simd
        for (int r = 0; r < FX_GROUP; r++) sf[r] = 0;
        for (int32_t j = j0; j < j1; j++) {
#pragma omp simd
            for (int r = 0; r < FX_GROUP; r++)
                sf[r] += j == kk[r] ? (FX_T)0 : EXPFAST(xt[j][r] - mm[r]);
        }
#pragma omp simd
        for (int r = 0; r < FX_GROUP; r++) ss[r] += (double)sf[r];
    }
    for (ptrdiff_t r = 0; r < rows; r++) {
        m_out[r] = (double)mm[r];
        s_out[r] = isfinite(mm[r]) ? ss[r] : NAN;
        k_out[r] = kk[r];
    }
}
#endif

/* a += sum of e_j^2, b += sum of e_j d_j, c[0] += sum of e_j d_j^2 and
 * c[1] += sum of e_j d_j^3 (c not NULL), e_j = exp(x_j - m), d_j = m - x_j,
 * over [j0, j1): runs of 64 summed in the element type (e d^k is at most
 * (k/e)^k: below 1.4 for k <= 3), folded into double; branch-free so it vectorizes on every path.  d_j is
 * capped (e_j is 0 long before the cap, and (e d) d multiplies that 0
 * first), so a -inf logit adds 0, not 0 * inf. */
FX_INLINE void FN(extras_run)(const FX_T *x, ptrdiff_t j0, ptrdiff_t j1, FX_T mt, double *a, double *b, double *c)
{
    const FX_T cap = (FX_T)1e30;
    for (; j0 < j1; j0 += 64) {
        const ptrdiff_t e1 = j1 - j0 < 64 ? j1 : j0 + 64;
        FX_T fa = 0, fb = 0, fc = 0, fd = 0;
#pragma omp simd reduction(+:fa, fb, fc, fd)
        for (ptrdiff_t j = j0; j < e1; j++) {
            const FX_T d0 = mt - x[j];
            const FX_T e = EXPFAST(-d0);
            const FX_T d = d0 < cap ? d0 : cap;
            fa += e * e;
            fb += e * d;
            const FX_T q2 = (e * d) * d;
            fc += q2;
            fd += q2 * d;
        }
        *a += (double)fa;
        *b += (double)fb;
        if (c) {
            c[0] += (double)fc;
            c[1] += (double)fd;
        }
    }
}

/* Optional statistics of one finite row (fx_stats: rank, s2, sx, sxx, sx3;
 * sx3 only with sxx). */
static void FN(stats_extra)(const FX_T *x, ptrdiff_t C, double m, int64_t k, int64_t y,
                            int64_t *rank, double *s2, double *sx, double *sxx, double *sx3)
{
    if (rank) {
        if (isnan(m)) {
            *rank = C;                      /* a NaN row is never right */
        } else {
            FX_T xy = x[y];
            /* counters as wide as the elements, so the compare vectorizes
             * without widening (C < 2^31) */
#if FX_IS_FLOAT
            int32_t r = 0;
#else
            int64_t r = 0;
#endif
            /* #{j > x_y} + #{j < y: x_j = x_y} = #{j < y: x_j >= x_y} + #{j > y: x_j > x_y} */
#pragma omp simd reduction(+:r)
            for (ptrdiff_t j = 0; j < y; j++) r += x[j] >= xy;
#pragma omp simd reduction(+:r)
            for (ptrdiff_t j = y + 1; j < C; j++) r += x[j] > xy;
            *rank = r;
        }
    }
    if (s2 || sx || sxx) {
        double a = 0.0, b = 0.0, c[2] = {0.0, 0.0};
        if (isfinite(m)) {
            const FX_T mt = (FX_T)m;
            double *cp = sxx ? c : NULL;
            FN(extras_run)(x, 0, k < C ? k : C, mt, &a, &b, cp);          /* the maximum's term skipped */
            if (k + 1 < C)
                FN(extras_run)(x, k + 1, C, mt, &a, &b, cp);
        } else {
            a = b = c[0] = c[1] = NAN;
        }
        if (s2) *s2 = a;
        if (sx) *sx = b;
        if (sxx) *sxx = c[0];
        if (sxx && sx3) *sx3 = c[1];
    }
}

/* Row statistics of n rows of C classes (fx_stats): m, k, s for every row,
 * l = log1p(s), and the optional rank, s2, sx and sxx.  Rows of at most
 * FX_SMALL_C classes are computed FX_GROUP at a time across rows; rows
 * that path cannot settle (non-finite maximum, sums small enough for
 * flushed terms to matter) are redone one at a time. */
#ifdef FX_HAS_sumexp_extras
static void FN(row_stats_x)(const FX_T *x, ptrdiff_t n, ptrdiff_t C, const fx_stats *st);
#endif

/* l = log1p(s) once per row, vectorized over the block, in double (float32
 * rows: a series short enough for their precision) */
static void FN(stats_l)(const double *s, double *l, ptrdiff_t n)
{
#pragma omp simd
    for (ptrdiff_t i = 0; i < n; i++) l[i] = fx_log1p_pos_d(s[i], FX_IS_FLOAT);
}

/* The rows a fast pass could not settle -- NaN, a maximum that is not
 * finite, sums small enough for flushed terms to matter (s below the
 * guard, or NaN) -- redone one at a time with stats_row. */
static void FN(settle_rows)(const FX_T *x, ptrdiff_t n, ptrdiff_t C, double *m, double *s, int64_t *k)
{
    for (ptrdiff_t r = 0; r < n; r++)
        if (!(s[r] >= (double)C * FX_FLUSH_GUARD))
            FN(stats_row)(x + r * C, C, NULL, 0, m + r, s + r, k + r);
}

static void FN(row_stats)(const FX_T *x, ptrdiff_t n, ptrdiff_t C, const fx_stats *st)
{
    double *m = st->m, *s = st->s, *l = st->l;
    int64_t *k = st->k;
#ifdef FX_HAS_sumexp_extras
    if (st->rank || st->s2 || st->sx || st->sxx) {
        /* evaluate's statistics in the same pass as the sum (intrinsics) */
        FN(row_stats_x)(x, n, C, st);
        return;
    }
#endif
    if (C <= FX_SMALL_C) {
        for (ptrdiff_t g = 0; g < n; g += FX_GROUP) {
            ptrdiff_t gn = n - g < FX_GROUP ? n - g : FX_GROUP;
            FN(stats_small)(x + g * C, gn, C, m + g, s + g, k + g, st->pfd);
            FN(settle_rows)(x + g * C, gn, C, m + g, s + g, k + g);
        }
#ifdef FX_HAS_stats_mid
    } else if (C <= FX_MID_C) {
        FN(stats_mid)(x, n, C, m, s, k, st->pfd);
        FN(settle_rows)(x, n, C, m, s, k);
#endif
    } else {
        for (ptrdiff_t i = 0; i < n; i++)
            FN(stats_row)(x + i * C, C, FX_PF_ROW(st, x + i * C, i + 1 < n ? x + (i + 1) * C : NULL), st->pfd,
                           m + i, s + i, k + i);
    }
    FN(stats_l)(s, l, n);
    if (st->rank || st->s2 || st->sx || st->sxx) {
        for (ptrdiff_t i = 0; i < n; i++) {
            int64_t y = st->y ? st->y[i] : 0;
            int skip = st->y && y == st->ignore;
            FN(stats_extra)(x + i * C, C, m[i], k[i], y, (st->rank && !skip) ? st->rank + i : NULL,
                            st->s2 ? st->s2 + i : NULL, st->sx ? st->sx + i : NULL,
                            st->sxx ? st->sxx + i : NULL, st->sx3 ? st->sx3 + i : NULL);
        }
    }
}

#ifdef FX_HAS_sumexp_extras
/* row_stats with the optional statistics (rank, s2, sx, sxx), computed in the
 * exp-sum pass itself: across rows from the tile for small class counts,
 * else row by row (max, first argmax, one fused pass).  Rows the fast pass
 * cannot settle (non-finite maximum, NaN, sums small enough for flushed
 * terms to matter) are redone by stats_row and stats_extra. */
static void FN(row_stats_x)(const FX_T *x, ptrdiff_t n, ptrdiff_t C, const fx_stats *st)
{
    double *m = st->m, *s = st->s, *l = st->l;
    int64_t *k = st->k;
    for (ptrdiff_t i0 = 0; i0 < n; i0 += FX_GROUP) {
        const ptrdiff_t gn = n - i0 < FX_GROUP ? n - i0 : FX_GROUP;
        if (C <= FX_SMALL_C) {
            FN(stats_small_x)(x + i0 * C, gn, C, m + i0, s + i0, k + i0, st, i0, st->pfd);
        } else {
            for (ptrdiff_t i = i0; i < i0 + gn; i++) {
                const FX_T *xr = x + i * C;
                const FX_T mi = FN(rowmax)(xr, C);
                const int64_t yi = st->y ? st->y[i] : -1;
                const int want_rank = st->rank && st->y && yi != st->ignore;
                double gt = 0.0, s2 = 0.0, sx = 0.0, sxx[2] = {0.0, 0.0};
                m[i] = mi;
                if (!isfinite(mi)) {
                    s[i] = NAN;
                    continue;
                }
                ptrdiff_t ki = FN(first_eq)(xr, C, mi);
                k[i] = ki < 0 ? 0 : ki;
                /* the next row (prefetch never faults, past the block's end included) */
                FN(sumexp_extras)(xr, C, mi, ki, want_rank ? xr[yi] : (FX_T)0, want_rank, s + i, &s2, &sx,
                                  st->sxx ? sxx : NULL, &gt, FX_PF_ROW(st, xr, xr + 4 * C));
                if (st->s2) st->s2[i] = s2;
                if (st->sx) st->sx[i] = sx;
                if (st->sxx) st->sxx[i] = sxx[0];
                if (st->sxx && st->sx3) st->sx3[i] = sxx[1];
                if (want_rank) {
                    /* counters as wide as the elements, so the compare
                     * vectorizes without widening (C < 2^31) */
#if FX_IS_FLOAT
                    int32_t ties = 0;
#else
                    int64_t ties = 0;
#endif
                    const FX_T xy = xr[yi];
#pragma omp simd reduction(+:ties)
                    for (ptrdiff_t j = 0; j < yi; j++) ties += xr[j] == xy;
                    st->rank[i] = (int64_t)gt + ties;
                }
            }
        }
        for (ptrdiff_t r = i0; r < i0 + gn; r++)
            if (!(s[r] >= (double)C * FX_FLUSH_GUARD)) {          /* NaN, special rows, tiny sums */
                int64_t y = st->y ? st->y[r] : 0;
                int skip = st->y == NULL || y == st->ignore;
                FN(stats_row)(x + r * C, C, NULL, 0, m + r, s + r, k + r);
                FN(stats_extra)(x + r * C, C, m[r], k[r], y, (st->rank && !skip) ? st->rank + r : NULL,
                                st->s2 ? st->s2 + r : NULL, st->sx ? st->sx + r : NULL,
                                st->sxx ? st->sxx + r : NULL, st->sx3 ? st->sx3 + r : NULL);
            }
    }
    FN(stats_l)(s, l, n);
}
#endif

/* ================================================================ plain loss */

/* How many of n labels are outside [0, C) and not `ignore`: the kernels'
 * own check, on a tile of labels already in cache, when the caller leaves
 * the range check to the pass (a compare per label, vectorized; one
 * unsigned compare covers y < 0). */
static ptrdiff_t FN(labels_bad)(const int64_t *y, ptrdiff_t n, ptrdiff_t C, int64_t ignore)
{
    ptrdiff_t bad = 0;
#pragma omp simd reduction(+:bad)
    for (ptrdiff_t i = 0; i < n; i++) bad += (uint64_t)y[i] >= (uint64_t)C && y[i] != ignore;
    return bad;
}

/* The class-index forward loss with no smoothing, no z-loss and no
 * gradient over n rows:
 *     row_i = sw_i (w_{y_i} ((m_i - x_{i,y_i}) + log1p(s_i))),  0 if ignored;
 * loss_i = k row_i (loss not NULL), part[0] += sum_i row_i, part[1] +=
 * sum_i sw_i w_{y_i} over the kept rows.  st: scratch for n rows.  Returns
 * how many labels are outside [0, C) and not o->ignore (then part is not
 * touched); the across-rows path always counts them, the others only with
 * o->check (else the caller checked them).  The
 * per-row r_i = lse_i - x_{i,y_i} comes across rows from xent_small where
 * the path has it (float, C <= FX_SMALL_C: no per-row statistics written
 * and read back, the labels checked on the way, the plain sum formed in
 * the same pass; a NaN marks a row it leaves to stats_row), else from
 * row_stats. */
static ptrdiff_t FN(xent_rows)(const FX_T *x, const int64_t *y, ptrdiff_t n, ptrdiff_t C, const fx_xent *o,
                               const fx_stats *st, FX_T *loss, double *part)
{
    double *r = st->l;
    const int64_t ign = o->ignore;
    const double *cw = o->cw, *sw = o->sw, k = o->k;
    const int plain = cw == NULL && sw == NULL && loss == NULL;
#ifdef FX_HAS_xent_small
    if (C <= FX_SMALL_C) {
        int redo = 0, bad = 0;
        double sums[2] = {0.0, 0.0};
        for (ptrdiff_t g = 0; g < n; g += FX_GROUP)
            redo |= FN(xent_small)(x + g * C, y + g, n - g < FX_GROUP ? n - g : FX_GROUP, C, ign, r + g, sums, &bad,
                                   st->pfd);
        if (bad)
            return bad;
        if (plain && !redo) {
            part[0] += sums[0];
            part[1] += sums[1];
            return 0;
        }
        for (ptrdiff_t i = 0; redo && i < n; i++)
            if (isnan(r[i]) && y[i] != ign) {      /* non-finite maximum, NaN, tiny sum */
                double m, s;
                int64_t kk;
                FN(stats_row)(x + i * C, C, NULL, 0, &m, &s, &kk);
                r[i] = (m - (double)x[i * C + y[i]]) + fx_log1p_pos_d(s, FX_IS_FLOAT);
            }
    } else
#endif
    {
        if (o->check) {
            ptrdiff_t bad = FN(labels_bad)(y, n, C, ign);
            if (bad)
                return bad;
        }
        fx_stats t = *st;
        t.y = NULL;
        t.rank = NULL;
        t.s2 = t.sx = NULL;
        FN(row_stats)(x, n, C, &t);
        for (ptrdiff_t i = 0; i < n; i++) {
            const int64_t yc = y[i] == ign ? 0 : y[i];
            r[i] = (t.m[i] - (double)x[i * C + yc]) + r[i];        /* r is t.l */
        }
    }
    double tot = 0.0, ws = 0.0;
    if (plain) {
        /* four running sums in registers (an omp simd reduction here kept
         * its lanes on the stack: a store-forwarding chain per row) */
        double t0 = 0.0, t1 = 0.0, t2 = 0.0, t3 = 0.0;
        int64_t kept = 0;
        ptrdiff_t i = 0;
        for (; i + 4 <= n; i += 4) {
            t0 += y[i] != ign ? r[i] : 0.0;
            t1 += y[i + 1] != ign ? r[i + 1] : 0.0;
            t2 += y[i + 2] != ign ? r[i + 2] : 0.0;
            t3 += y[i + 3] != ign ? r[i + 3] : 0.0;
            kept += (y[i] != ign) + (y[i + 1] != ign) + (y[i + 2] != ign) + (y[i + 3] != ign);
        }
        for (; i < n; i++) {
            t0 += y[i] != ign ? r[i] : 0.0;
            kept += y[i] != ign;
        }
        tot = (t0 + t1) + (t2 + t3);
        ws = (double)kept;
    } else {
        for (ptrdiff_t i = 0; i < n; i++) {
            const int64_t yi = y[i];
            const int keep = yi != ign;
            const double wy = cw && keep ? cw[yi] : 1.0, si = sw ? sw[i] : 1.0;
            const double row = keep ? si * (wy * r[i]) : 0.0;
            if (loss) loss[i] = (FX_T)(k * row);
            tot += row;
            ws += keep ? si * wy : 0.0;
        }
    }
    part[0] += tot;
    part[1] += ws;
    return 0;
}

/* ================================================================ row writes */

/* row_stats, and e_ij = exp(x_ij - m_i) written with the exp of the row
 * writes (flushed to 0 below the normal range) -- shifted: x_ij - m_i,
 * for log_softmax -- where this path has the fused row kernel
 * (stats_exp_row, rows of more than FX_SMALL_C classes): returns 1 then,
 * else 0 with e untouched (the caller writes from x).
 * e must not overlap x: rows the fast pass cannot settle are redone from
 * x, with e left as it is (their s is NaN, or their e is the same exp of
 * the same m: the redo only sharpens s). */
static int FN(stats_exp_rows)(const FX_T *x, FX_T *e, ptrdiff_t n, ptrdiff_t C, const fx_stats *st, int shifted)
{
#ifdef FX_HAS_stats_exp
    if (C > FX_SMALL_C && !(st->rank || st->s2 || st->sx || st->sxx)) {
        double *m = st->m, *s = st->s;
        int64_t *k = st->k;
        for (ptrdiff_t i = 0; i < n; i++) {
            if (shifted)
                FN(stats_exp_row)(x + i * C, e + i * C, C, FX_PF_ROW(st, x + i * C, x + (i + 1) * C), m + i, s + i, k + i, 1);
            else
                FN(stats_exp_row)(x + i * C, e + i * C, C, FX_PF_ROW(st, x + i * C, x + (i + 1) * C), m + i, s + i, k + i, 0);
        }
        FN(settle_rows)(x, n, C, m, s, k);
        FN(stats_l)(s, st->l, n);
        return 1;
    }
#endif
    FN(row_stats)(x, n, C, st);
    return 0;
}

/* out_ij = a_i e_ij - b_i w_j (w NULL: w_j = 1; b NULL: 0), the affine step
 * of exp_affine_rows on exps already written (stats_exp_rows); out may be e. */
static void FN(scale_rows)(const FX_T *e, FX_T *out, ptrdiff_t n, ptrdiff_t C, const double *a,
                           const double *w, const double *b)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        const FX_T ai = (FX_T)a[i];
        const FX_T *er = e + i * C;
        FX_T *o = out + i * C;
        if (w != NULL) {                   /* class weights: per-element b w_j in double, as exp_affine */
            const double bi = b ? b[i] : 0.0;
#pragma omp simd
            for (ptrdiff_t j = 0; j < C; j++) o[j] = ai * er[j] - (FX_T)(bi * w[j]);
        } else {
            const FX_T bi = b ? (FX_T)b[i] : (FX_T)0;
#pragma omp simd
            for (ptrdiff_t j = 0; j < C; j++) o[j] = ai * er[j] - bi;
        }
    }
}

/* out_ij = a_i exp(x_ij - m_i) - b_i w_j  (w NULL: w_j = 1; b NULL: 0).
 * softmax (a = 1/(1+s)) and the gradients.  out may alias x.  The exp is
 * the flushing one: probabilities below the normal range are written 0. */
static void FN(exp_affine_rows)(const FX_T *x, FX_T *out, ptrdiff_t n, ptrdiff_t C, const double *m,
                                const double *a, const double *w, const double *b)
{
#ifdef FX_HAS_exp_affine_flat
    if (w == NULL && FN(exp_affine_flat)(x, out, n, C, m, a, b))
        return;
#endif
    for (ptrdiff_t i = 0; i < n; i++)
        FN(exp_affine)(x + i * C, out + i * C, C, (FX_T)m[i], a[i], w, b ? b[i] : 0.0);
}

#ifndef FX_HAS_sub_rows
/* out_ij = (x_ij - m_i) - l_i: log_softmax without forming lse = m + l. */
static void FN(sub_rows)(const FX_T *x, FX_T *out, ptrdiff_t n, ptrdiff_t C, const double *m, const double *l)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        const FX_T mi = (FX_T)m[i], li = (FX_T)l[i];
        const FX_T *xr = x + i * C;
        FX_T *o = out + i * C;
#pragma omp simd
        for (ptrdiff_t j = 0; j < C; j++) o[j] = (xr[j] - mi) - li;
    }
}
#endif

/* out_i = sum_j c_j (m_i - x_ij), c_j = w_j (or 1), terms with c_j == 0
 * skipped so a zero-weight class at -inf contributes 0 rather than NaN.
 * Every term is >= 0 for finite m: no cancellation (label smoothing). */
static void FN(wdiff_rows)(const FX_T *x, ptrdiff_t n, ptrdiff_t C, const double *m, const double *w,
                           double *out)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        const FX_T mi = (FX_T)m[i];
        const FX_T *xr = x + i * C;
        double s = 0.0;
        if (w == NULL) {
#pragma omp simd reduction(+:s)
            for (ptrdiff_t j = 0; j < C; j++) s += (double)(mi - xr[j]);
        } else {
#pragma omp simd reduction(+:s)
            for (ptrdiff_t j = 0; j < C; j++) s += w[j] == 0.0 ? 0.0 : w[j] * (double)(mi - xr[j]);
        }
        out[i] = s;
    }
}

/* Soft targets: sum_i = sum_j c_j (m_i - x_ij) with c_j = w_j (ta t_ij + tb),
 * zero c_j skipped (0 log 0 = 0); csum_i = sum_j c_j. */
static void FN(tdiff_rows)(const FX_T *x, const FX_T *t, ptrdiff_t n, ptrdiff_t C, const double *m,
                           const double *w, double ta, double tb, double *sum, double *csum)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        const FX_T mi = (FX_T)m[i];
        const FX_T *xr = x + i * C, *tr = t + i * C;
        double s = 0.0, q = 0.0;
        if (w == NULL) {
#pragma omp simd reduction(+:s, q)
            for (ptrdiff_t j = 0; j < C; j++) {
                double c = ta * (double)tr[j] + tb;
                s += c == 0.0 ? 0.0 : c * (double)(mi - xr[j]);
                q += c;
            }
        } else {
#pragma omp simd reduction(+:s, q)
            for (ptrdiff_t j = 0; j < C; j++) {
                double c = w[j] * (ta * (double)tr[j] + tb);
                s += c == 0.0 ? 0.0 : c * (double)(mi - xr[j]);
                q += c;
            }
        }
        sum[i] = s;
        csum[i] = q;
    }
}

/* Soft-target gradient: g_ij = a_i exp(x_ij - m_i) - b_i w_j (ta t_ij + tb);
 * exps: x holds exp(x_ij - m_i) already (stats_exp_rows), m unused.  g may
 * alias x (not t). */
/* The focal loss with a target distribution, row by row, element by
 * element in double (vectorized across classes).  Per row, from its
 * statistics (m, s, l = log1p(s), argmax k; lse = m + l) and class j:
 *   L_j = (m - x_j) + l = -log p_j,  p_j = exp(-L_j),
 *   q_j = 1 - p_j, taken as s / (1 + s) at the argmax (the only class
 *         whose p can exceed 1/2; there 1 - p would cancel) and as 1 - p_j
 *         elsewhere (p_j <= 1/2: no cancellation, and no expm1 needed),
 *   c_j = fa_j t'_j  (class weight x alpha x the smoothed target),
 *   term_j = c_j q_j^g L_j,  G_j = c_j q_j^g (1 + g p_j L_j / q_j)
 * (q^g = exp(g log q); L/q -> 1 as q -> 0; a term with c_j = 0 is 0).
 * rows[i] = sum_j term_j; with g (gs not NULL) the gradient
 *   g_ij = gs_i [ (G_i + 2 z lse_i - G_ij) p_ij - G_ij q_ij ],  G_i = sum_j G_ij,
 * its p - 1 at the label taken as -q (exact where p rounds to 1).  The
 * second pass recomputes each term from x before writing g there, so g may
 * be x.  Rows labelled out of range (ignored) get whatever their label
 * makes of t': the caller zeroes them, as it fills NaN rows. */
FX_INLINE void FN(focal_elem)(double xj, double m, double l, double s1, int at_k, double cj, double gam,
                              double *pj, double *qj, double *term, double *gj)
{
    const double L = (m - xj) + l;
    const double p = fx_expneg_d(-L);
    const double q = at_k ? s1 : 1.0 - p;
    const double qg = gam != 0.0 ? fx_expneg_d(gam * fx_log_d(q)) : 1.0;    /* log q <= 0; q = 0: 0 */
    const double ratio = q > 0.0 ? L / q : 1.0;
    *pj = p;
    *qj = q;
    *term = cj != 0.0 ? cj * qg * L : 0.0;
    *gj = cj != 0.0 ? cj * qg * (1.0 + (p > 0.0 ? gam * p * ratio : 0.0)) : 0.0;
}

/* one pass over row i's classes, t'_j from the targets (TJ) */
#define FX_FOCAL_PASS(TJ, BODY)                                                                       \
    _Pragma("omp simd reduction(+:tot, G)")                                                          \
    for (ptrdiff_t j = 0; j < C; j++) {                                                              \
        double p, q, term, gj;                                                                       \
        FN(focal_elem)((double)xr[j], m, l, s1, j == k, fa[j] * (TJ), gam, &p, &q, &term, &gj);     \
        BODY                                                                                         \
    }
static void FN(focal_rows)(const FX_T *x, const FX_T *t, const int64_t *y, FX_T *g, ptrdiff_t n, ptrdiff_t C,
                           const fx_focal *o, const fx_stats *st, const double *gs, double *rows)
{
    const double gam = o->gamma, ta = o->ta, tb = o->tb, z2 = 2.0 * o->z;
    const double *fa = o->fa;
    for (ptrdiff_t i = 0; i < n; i++) {
        const FX_T *xr = x + i * C;
        const FX_T *tr = t ? t + i * C : t;
        const double m = st->m[i], l = st->l[i], s1 = st->s[i] / (1.0 + st->s[i]);
        const int64_t k = st->k[i], yi = y ? y[i] : -1;
        double tot = 0.0, G = 0.0;
        /* separate loops for the two kinds of target: no load from a NULL t */
        if (t) {
            FX_FOCAL_PASS(ta * (double)tr[j] + tb, tot += term; G += gj;)
        } else {
            FX_FOCAL_PASS((j == yi ? ta : 0.0) + tb, tot += term; G += gj;)
        }
        rows[i] = tot;
        if (gs == NULL)
            continue;
        const double a = G + z2 * (m + l), sc = gs[i];
        FX_T *gr = g + i * C;
        if (t) {
            FX_FOCAL_PASS(ta * (double)tr[j] + tb, gr[j] = (FX_T)(sc * ((a - gj) * p - gj * q));)
        } else {
            FX_FOCAL_PASS((j == yi ? ta : 0.0) + tb, gr[j] = (FX_T)(sc * ((a - gj) * p - gj * q));)
        }
    }
}
#undef FX_FOCAL_PASS

FX_INLINE void FN(grad_soft_rows_)(const FX_T *x, const FX_T *t, FX_T *g, ptrdiff_t n, ptrdiff_t C,
                                   const double *m, const double *a, const double *w, const double *b,
                                   double ta, double tb, const int exps)
{
#define EXPOF(v, mi) (exps ? (v) : EXPFAST((v) - (mi)))
    for (ptrdiff_t i = 0; i < n; i++) {
        const FX_T mi = (FX_T)m[i], fa = (FX_T)a[i];
        const FX_T *xr = x + i * C, *tr = t + i * C;
        FX_T *gr = g + i * C;
        if (w == NULL) {
            const FX_T fb = (FX_T)(b[i] * ta), fc = (FX_T)(b[i] * tb);
#pragma omp simd
            for (ptrdiff_t j = 0; j < C; j++)
                gr[j] = fa * EXPOF(xr[j], mi) - (fb * tr[j] + fc);
        } else {
            const double bi = b[i];
#pragma omp simd
            for (ptrdiff_t j = 0; j < C; j++)
                gr[j] = fa * EXPOF(xr[j], mi) - (FX_T)(bi * w[j] * (ta * (double)tr[j] + tb));
        }
    }
#undef EXPOF
}

static void FN(grad_soft_rows)(const FX_T *x, const FX_T *t, FX_T *g, ptrdiff_t n, ptrdiff_t C,
                               const double *m, const double *a, const double *w, const double *b,
                               double ta, double tb, int exps)
{
    if (exps)
        FN(grad_soft_rows_)(x, t, g, n, C, m, a, w, b, ta, tb, 1);
    else
        FN(grad_soft_rows_)(x, t, g, n, C, m, a, w, b, ta, tb, 0);
}

/* out_i = sum_j p_ij log(clip(q_ij, lo, hi)), terms with p_ij == 0 skipped
 * (0 log 0 = 0). */
static void FN(plogq_rows)(const FX_T *p, const FX_T *q, ptrdiff_t n, ptrdiff_t C, FX_T lo, FX_T hi,
                           double *out)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        const FX_T *pr = p + i * C, *qr = q + i * C;
        double s = 0.0;
#pragma omp simd reduction(+:s)
        for (ptrdiff_t j = 0; j < C; j++) {
            FX_T v = qr[j];
            v = v < lo ? lo : v;
            v = v > hi ? hi : v;
            FX_T l = LOG(v);
            s += pr[j] == 0 ? 0.0 : (double)pr[j] * (double)l;
        }
        out[i] = s;
    }
}

