/* fx_simd_small.h -- the small-class kernels (C <= FX_SMALL_C) written
 * once against the row's vector vocabulary (fx_vec_<isa>.h), vectorized
 * across rows: VL rows at a time, their logits transposed into a
 * class-major tile (to_tile), one lane a row.  The statistics
 * (stats_small) and the plain forward loss (xent_small, float; a
 * one-pass two-class kernel where the softplus table exists).  Each sets
 * FX_HAS_<name>; fx_rows.h skips its portable twin.  Included by
 * fx_kernels.h after fx_simd_rows.h. */

#define FX_HAS_stats_small 1
/* Two classes: the pairs of VL rows deinterleaved into x_0 and x_1. */
FX_INLINE void FN(pairs)(const FX_T *x, int nr, VT *a, VT *b)
{
    VT lo, hi;
    if (nr == VL) {
        lo = VLOADU(x);
        hi = VLOADU(x + VL);
    } else {                     /* the last rows: masked loads, padding 0 */
        lo = 2 * nr >= VL ? VLOADU(x) : VLOADM(x, MTAIL(2 * nr), 0);
        hi = 2 * nr > VL ? VLOADM(x + VL, MTAIL(2 * nr - VL), 0) : VZERO();
    }
    VDEINTERLEAVE(lo, hi, a, b);
}

/* m, s, k of VL rows to memory (nr < VL: the first nr); s = NaN where m is
 * not finite.  s comes in double: lanes 0..VL/2-1 in s0, the rest in s1
 * for float (both halves in s0 for double, s1 zero). */
FX_INLINE void FN(put_stats)(VT m, DT s0, DT s1, VT k, int nr, double *m_out, double *s_out, int64_t *k_out)
{
    double mt[VL], st[VL];
    int64_t kt[VL];
    const int full = nr == VL;
    double *mo = full ? m_out : mt, *so = full ? s_out : st;
    int64_t *ko = full ? k_out : kt;
    const DT nan = DSET(NAN);
#if FX_IS_FLOAT
    const DT m0 = DHALF(m, 0), m1 = DHALF(m, 1);
    VSTORE_I64(ko, k);
    DSTOREU(mo, m0);
    DSTOREU(mo + VL / 2, m1);
    DSTOREU(so, DKEEP_FINITE(m0, s0, nan));
    DSTOREU(so + VL / 2, DKEEP_FINITE(m1, s1, nan));
#else
    DT sd = VADD(s0, s1);
    VSTOREU(mo, m);
    VSTOREU(so, DKEEP_FINITE(m, sd, nan));
    VSTORE_I64(ko, k);
#endif
    if (!full)
        for (int r = 0; r < nr; r++) {
            m_out[r] = mt[r];
            s_out[r] = st[r];
            k_out[r] = kt[r];
        }
}

/* VL rows x C classes into the class-major tile (tile[j VL + r]) by
 * in-register transposes of TW x TW blocks (the vocabulary's TB_*: 8 x 8
 * float, 4 x 4 double in 256-bit registers on x86); a tile row of VL
 * lanes is VL / TW such blocks side by side.  Cheaper than a gather per
 * class (on Zen 4 masked gathers made the AVX-512 path slower than AVX2's
 * shuffles).  Where the vocabulary has one (FX_VEC_TILE_SMALL), a tile of
 * few classes by permutes instead.  Rows past nr and columns past C are
 * not read (0 in the tile). */
FX_INLINE void FN(to_tile)(const FX_T *x, int nr, ptrdiff_t C, FX_T *tile)
{
#ifdef FX_VEC_TILE_SMALL
    if (FN(vtile_small)(x, nr, C, tile))
        return;
#endif
    for (ptrdiff_t c0 = 0; c0 < C; c0 += TW) {
        const ptrdiff_t w = C - c0 < TW ? C - c0 : TW;
        for (int h = 0; h < VL && h < nr; h += TW) {
            TB r[TW], c[TW];
            /* a full load where it stays inside the group's rows (the
             * columns past the chunk are not stored), a masked one at the
             * very end */
            for (int i = 0; i < TW; i++) {
                const ptrdiff_t row = h + i, at = row * C + c0;
                r[i] = row >= nr ? TB_ZERO() : (w == TW || at + TW <= nr * C) ? TB_LOAD(x + at) : TB_LOADM(x + at, w);
            }
            TB_TRANSPOSE(r, c);
            /* all TW columns, past C too (the tile has room; those are
             * not read): a loop of w stores became a memcpy (rep movsq) */
            for (int j = 0; j < TW; j++) TB_STORE(tile + (c0 + j) * VL + h, c[j]);
        }
        for (int h = (nr + TW - 1) / TW * TW; h < VL; h += TW)     /* row blocks past nr: 0 */
            for (int j = 0; j < TW; j++) TB_STORE(tile + (c0 + j) * VL + h, TB_ZERO());
    }
}

#ifndef FX_GROUP_AHEAD
#define FX_GROUP_AHEAD 2048
#endif
/* The logits FX_GROUP_AHEAD bytes past the VL rows at xr (pfd bytes past
 * when the driver set fx_stats.pfd: the next block's raw rows): the across-rows
 * loops' arithmetic keeps too few loads in flight to hide memory latency
 * by itself.  Into L1 while the VL rows span at most 1 KB; above, into L2
 * (prefetcht2): 32-64 L1 prefetches issued at once made the AVX-512 path's
 * time swing widely from minute to minute, into L2 it stayed steady; at
 * <= 16 classes L1 stayed the faster.  (Figures: the performance log.) */
FX_INLINE void FN(prefetch_group)(const FX_T *xr, ptrdiff_t C, ptrdiff_t pfd)
{
    const ptrdiff_t bytes = VL * C * (ptrdiff_t)sizeof(FX_T);
    const char *at = FX_PF_AT(xr, pfd ? pfd : FX_GROUP_AHEAD);
    if (bytes <= 1024)
        for (ptrdiff_t q = 0; q < bytes; q += 64)
            FX_PREFETCH(at + q, 3);
    else
        for (ptrdiff_t q = 0; q < bytes; q += 64)
            FX_PREFETCH(at + q, 1);
}

/* The across-rows statistics of VL rows of C <= FX_SMALL_C classes
 * (rows past nr read as 0), shared by stats_small and xent_small.
 * group_max: the class-major tile (to_tile), the row maximum m (NaN
 * skipped: a NaN row shows up in the sum), its first index k (k_out NULL:
 * not tracked), and xy, the logit of class yv (a lane of yv that matches
 * no class keeps class 0's). */
FX_INLINE void FN(group_max)(const FX_T *xr, int nr, ptrdiff_t C, FX_T *tile, VT yv, VT *m_out, VT *k_out,
                             VT *xy_out)
{
    VT m, k = VZERO(), xy;
    FN(to_tile)(xr, nr, C, tile);
    m = VLOADU(tile);
    xy = m;
    for (ptrdiff_t j = 1; j < C; j++) {
        const VT v = VLOADU(tile + j * VL);
        const VT vj = VSET((FX_T)j);
        if (k_out)
            k = VSEL(VGT(v, m), vj, k);
        m = VMAX(v, m);
        xy = VSEL(VEQ(yv, vj), v, xy);
    }
    *m_out = m;
    if (k_out)
        *k_out = k;
    *xy_out = xy;
}

/* One class's term of group_sum: exp(x_j - m), 0 at j = k; without k,
 * 0 wherever x_j = m, those lanes counted in *ties. */
FX_INLINE VT FN(group_term)(const FX_T *t, ptrdiff_t j, VT m, const VT *k, VT *ties)
{
    const VT v = VLOADU(t), e = FN(vexp_sum)(VSUB(v, m));
    if (k)
        return VSEL(VEQ(*k, VSET((FX_T)j)), VZERO(), e);
    const MT eq = VEQ(v, m);
    *ties = VADD(*ties, VZMASK(eq, VSET((FX_T)1)));
    return VSEL(eq, VZERO(), e);
}

/* group_sum: sum over j != k of exp(x_j - m) from the tile, in FX_T:
 * four accumulators of at most 16 terms a lane.  With k NULL (xent_small,
 * which needs no argmax): the terms equal to the maximum left out and
 * (count - 1) added -- the same s, a tie's term being exactly 1 -- which
 * saves a compare and a select a class in group_max. */
FX_INLINE VT FN(group_sum)(const FX_T *tile, ptrdiff_t C, VT m, const VT *k)
{
    /* unrolled by hand: an array of accumulators indexed j & 3 stayed on the stack */
    VT s0 = VZERO(), s1 = VZERO(), s2 = VZERO(), s3 = VZERO(), ties = VZERO();
    ptrdiff_t j = 0;
    for (; j + 4 <= C; j += 4) {
        s0 = VADD(s0, FN(group_term)(tile + j * VL, j, m, k, &ties));
        s1 = VADD(s1, FN(group_term)(tile + (j + 1) * VL, j + 1, m, k, &ties));
        s2 = VADD(s2, FN(group_term)(tile + (j + 2) * VL, j + 2, m, k, &ties));
        s3 = VADD(s3, FN(group_term)(tile + (j + 3) * VL, j + 3, m, k, &ties));
    }
    for (; j < C; j++)
        s0 = VADD(s0, FN(group_term)(tile + j * VL, j, m, k, &ties));
    const VT s = VADD(VADD(s0, s1), VADD(s2, s3));
    return k ? s : VADD(s, VSUB(ties, VSET((FX_T)1)));
}

/* pair_stats: two classes deinterleaved in registers, the same m, k, xy
 * and s = exp(-|x_0 - x_1|) (NaN from either). */
FX_INLINE void FN(pair_stats)(const FX_T *xr, int nr, VT yv, VT *m, VT *k, VT *xy, VT *s)
{
    VT a, b;
    FN(pairs)(xr, nr, &a, &b);
    *m = VMAX(b, a);                                      /* NaN in a: a NaN maximum */
    *k = VSEL(VGT(b, a), VSET((FX_T)1), VZERO());
    *xy = VSEL(VEQ(yv, VSET((FX_T)1)), b, a);
    const VT d = VSUB(VMIN(a, b), VMAX(a, b));            /* -|a - b| */
    *s = FN(vexp_sum)(VSEL(VUNORD(a, a), a, d));
}

/* m, k, s (fx_stats) of up to FX_GROUP rows of C <= FX_SMALL_C classes,
 * VL rows at a time, vectorized across rows (group_max, group_sum: four
 * float accumulators of at most 16 terms, folded into double; two classes
 * through pair_stats).  Rows whose maximum
 * is not finite come out with s = NaN, and row_stats redoes them (and rows
 * whose sum is small enough for flushed terms to matter) one at a time. */
static void FN(stats_small_x)(const FX_T *x, ptrdiff_t rows, ptrdiff_t C, double *m_out, double *s_out,
                              int64_t *k_out, const fx_stats *st, ptrdiff_t g0, ptrdiff_t pfd);

static void FN(stats_small)(const FX_T *x, ptrdiff_t rows, ptrdiff_t C,
                            double *m_out, double *s_out, int64_t *k_out, ptrdiff_t pfd)
{
    FN(stats_small_x)(x, rows, C, m_out, s_out, k_out, NULL, 0, pfd);
}

/* stats_small, and with st (rows g0.. of the block) the optional
 * statistics of evaluate from the same tile: s2, sx, sxx, sx3, rank. */
static void FN(stats_small_x)(const FX_T *x, ptrdiff_t rows, ptrdiff_t C, double *m_out, double *s_out,
                              int64_t *k_out, const fx_stats *st, ptrdiff_t g0, ptrdiff_t pfd)
{
    FX_T tile[(FX_SMALL_C + VL) * VL];     /* to_tile writes whole VL x VL blocks */
    const int extras = st != NULL && (st->s2 || st->sx || st->sxx || st->rank);
    const int want_xx = st != NULL && st->sxx != NULL;
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += VL) {
        const int nr = rows - r0 < VL ? (int)(rows - r0) : VL;
        const FX_T *xr = x + r0 * C;
        VT m, k, xy;
        DT d0 = DZERO(), d1 = DZERO();
        FN(prefetch_group)(xr, C, pfd);
        if (C == 2 && !extras) {
            VT e;
            FN(pair_stats)(xr, nr, VSET((FX_T)-1), &m, &k, &xy, &e);
            DFOLD(d, e);
        } else {
            FN(group_max)(xr, nr, C, tile, VSET((FX_T)-1), &m, &k, &xy);
            if (!extras) {
                const VT a = FN(group_sum)(tile, C, m, &k);
                DFOLD(d, a);
            } else {
                /* the label's logit of each row from the tile, then one pass
                 * over the classes for s, s2, sx, sxx and the rank */
                FX_T yl[VL], xyl[VL];
                const ptrdiff_t r0g = g0 + r0;
                for (int r = 0; r < VL; r++) {
                    int64_t yy = r < nr && st->y ? st->y[r0g + r] : -1;
                    yl[r] = (FX_T)(yy >= 0 && yy < C ? yy : -1);
                    xyl[r] = yy >= 0 && yy < C ? tile[yy * VL + r] : (FX_T)0;
                }
                const VT vy = VLOADU(yl), vxy = VLOADU(xyl), one = VSET((FX_T)1), fl = VSET((FX_T)XP_MIN);
                VT cnt = VZERO();
                DT e0 = DZERO(), e1 = DZERO(), x0 = DZERO(), x1 = DZERO(), q0 = DZERO(), q1 = DZERO();
                DT c0 = DZERO(), c1 = DZERO();
                for (ptrdiff_t j0 = 0; j0 < C; j0 += 16) {
                    ptrdiff_t j1 = j0 + 16 < C ? j0 + 16 : C;
                    VT a = VZERO(), a2 = VZERO(), ax = VZERO(), axx = VZERO(), ax3 = VZERO();
                    for (ptrdiff_t j = j0; j < j1; j++) {
                        const VT v = VLOADU(tile + j * VL), vj = VSET((FX_T)j), dd = VSUB(v, m);
                        VT e = VSEL(VEQ(k, vj), VZERO(), FN(vexp_sum)(dd));
                        a = VADD(a, e);
                        a2 = VFMA(e, e, a2);
                        const VT dc = VMAX(fl, dd);            /* x_j - m at the exp's clamp: -d_j */
                        ax = VFNMA(e, dc, ax);
                        if (want_xx) {                 /* e d^2, e d^3 */
                            const VT q = VMUL(VMUL(e, dc), dc);
                            axx = VADD(axx, q);
                            ax3 = VFNMA(q, dc, ax3);
                        }
                        /* x_j > x_y, or a tie before y */
                        const VT gt = VZMASK(VGT(v, vxy), one);
                        const VT tie = VZMASK(VEQ(v, vxy), VZMASK(VLT(vj, vy), one));
                        cnt = VADD(cnt, VADD(gt, tie));
                    }
                    DFOLD(d, a);
                    DFOLD(e, a2);
                    DFOLD(x, ax);
                    if (want_xx) {
                        DFOLD(q, axx);
                        DFOLD(c, ax3);
                    }
                }
                double b2[VL], bx[VL], bq[VL], b3[VL];
                FX_T bc[VL];
#if FX_IS_FLOAT
                DSTOREU(b2, e0); DSTOREU(b2 + VL / 2, e1);
                DSTOREU(bx, x0); DSTOREU(bx + VL / 2, x1);
                DSTOREU(bq, q0); DSTOREU(bq + VL / 2, q1);
                DSTOREU(b3, c0); DSTOREU(b3 + VL / 2, c1);
#else
                VSTOREU(b2, VADD(e0, e1));
                VSTOREU(bx, VADD(x0, x1));
                VSTOREU(bq, VADD(q0, q1));
                VSTOREU(b3, VADD(c0, c1));
#endif
                VSTOREU(bc, cnt);
                for (int r = 0; r < nr; r++) {
                    if (st->s2) st->s2[r0g + r] = b2[r];
                    if (st->sx) st->sx[r0g + r] = bx[r];
                    if (want_xx) st->sxx[r0g + r] = bq[r];
                    if (want_xx && st->sx3) st->sx3[r0g + r] = b3[r];
                    if (st->rank && yl[r] >= 0 && st->y[r0g + r] != st->ignore) st->rank[r0g + r] = (int64_t)bc[r];
                }
            }
        }
        FN(put_stats)(m, d0, d1, k, nr, m_out + r0, s_out + r0, k_out + r0);
    }
}

#if FX_IS_FLOAT
/* The labels of nr <= VL rows as float lanes: y where it is in [0, C)
 * and not `ign` (a kept row), else -1 (matches no class); *bad += how
 * many of the nr labels are outside [0, C) and not `ign`.  Rows past nr
 * are not read.  The conversion of VL labels: the vocabulary's
 * vlabels_vl. */
FX_INLINE VT FN(vlabels)(const int64_t *y, int nr, ptrdiff_t C, int64_t ign, int *bad)
{
    int64_t pad[VL];
    if (nr < VL) {                 /* the last rows: a padded copy (no masked loads past the end) */
        for (int i = 0; i < VL; i++) pad[i] = i < nr ? y[i] : ign;
        y = pad;
    }
    return FN(vlabels_vl)(y, C, ign, bad);
}

/* log(u) for finite u >= 1 with u = 2^k f, f in [sqrt(1/2), sqrt(2)):
 * k ln2 + 2 atanh((f - 1)/(f + 1)), the series to z^4 (|t| <= 0.172:
 * truncation 2e-9 relative). */
FX_INLINE VT FN(vlog_ge1)(VT u)
{
    VT k, f;
    VFREXP_SQRT2(u, k, f);
    const VT t = VDIV(VSUB(f, VSET(1.0f)), VADD(f, VSET(1.0f))), z = VMUL(t, t);
    VT p = VSET(1.0f / 9.0f);
    p = VFMA(p, z, VSET(1.0f / 7.0f));
    p = VFMA(p, z, VSET(1.0f / 5.0f));
    p = VFMA(p, z, VSET(1.0f / 3.0f));
    p = VMUL(VADD(t, t), VFMA(p, z, VSET(1.0f)));
    return VFMA(k, VSET(FX_LN2F_HI), VFMA(k, VSET(FX_LN2F_LO), p));
}

/* log1p(s) for s >= 0 finite: vlog1p01 up to 1 (tiny s keep their
 * relative precision), log(1 + s) above, where the rounding of 1 + s
 * costs at most 2^-25 / ln 2 relative; the second branch only when a lane
 * needs it. */
FX_INLINE VT FN(vlog1p_pos)(VT s)
{
    const VT one = VSET(1.0f);
    const MT big = VGT(s, one);
    const VT lo = FN(vlog1p01)(VMIN(s, one));
    if (MNONE(big))
        return lo;
    return VSEL(big, FN(vlog_ge1)(VADD(one, s)), lo);
}

#define FX_HAS_xent_small 1

/* The labels of the rows FX_GROUP_AHEAD bytes on (VL of them a step). */
FX_INLINE void FN(prefetch_labels)(const int64_t *y)
{
    for (int q = 0; q < VL * (int)sizeof(int64_t); q += 64)
        FX_PREFETCH((const char *)y + FX_GROUP_AHEAD + q, 3);
}

/* The end of VL rows of xent_small / xent_pair: r (NaN where not good)
 * written in double to r_out[0, nr), the good kept rows' r added to *acc,
 * *kept += the kept rows, *redo set when a kept row is not good. */
FX_INLINE void FN(xent_put)(VT r, MT good, MT keep, int nr, double *r_out, VT *acc, int *kept, int *redo)
{
    const unsigned kb = MBITS(keep);
    *redo |= (MBITS(good) & kb) != kb;
    *kept += __builtin_popcount(kb);
    *acc = VADD(*acc, VSEL(good, VZMASK(keep, r), VZERO()));
    double rt[VL];
    double *ro = nr == VL ? r_out : rt;
    DSTOREU(ro, DHALF(r, 0));
    DSTOREU(ro + VL / 2, DHALF(r, 1));
    if (nr < VL)
        for (int i = 0; i < nr; i++) r_out[i] = rt[i];
}

/* sums[0] += the kept rows' r from the float accumulator (at most
 * FX_GROUP / VL = 8 terms a lane), in double; sums[1] += kept. */
FX_INLINE void FN(xent_sums)(VT acc, int kept, double *sums)
{
    DT d0 = DZERO(), d1 = DZERO();
    DFOLD(d, acc);
    sums[0] += DHSUM(d0) + DHSUM(d1);
    sums[1] += kept;
}

/* xent_small's two classes, one pass: with d = x_{1-y} - x_y,
 *     r = (m - x_y) + log1p(exp(-|x_0 - x_1|)) = max(d, 0) + softplus(-|d|),
 * the tiny-loss form with both terms from d (m - x_y is 0 or |d|, exact),
 * softplus(-|d|) from the table (16 operations where the exp and log1p
 * of the group path took 30, and no max, argmax or second stage).  AVX-512
 * float only: AVX2's softplus is that exp and log1p, and this pass with
 * them measured slower than the group path there.
 * A row is left to the caller (r = NaN) where |d| > -log(2 FX_FLUSH_GUARD):
 * the group path's flush guard, exp(-|d|) < 2 FX_FLUSH_GUARD; and where d
 * is NaN or infinite.  Returns, sums and *bad as xent_small. */
#if FX_SP_TABLE
static int FN(xent_pair)(const FX_T *x, const int64_t *y, ptrdiff_t rows, int64_t ign, double *r_out,
                         double *sums, int *bad, ptrdiff_t pfd)
{
    int redo = 0, kept = 0;
    VT acc = VZERO();
    const VT lim = VSET((FX_T)-log(2.0 * FX_FLUSH_GUARD)), one = VSET((FX_T)1), vnan = VSET(NAN);
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += VL) {
        const int nr = rows - r0 < VL ? (int)(rows - r0) : VL;
        const FX_T *xr = x + r0 * 2;
        FN(prefetch_group)(xr, 2, pfd);
        FN(prefetch_labels)(y + r0);
        const VT yv = FN(vlabels)(y + r0, nr, 2, ign, bad);
        VT a, b;
        FN(pairs)(xr, nr, &a, &b);
        const VT d = VSEL(VEQ(yv, one), VSUB(a, b), VSUB(b, a));
        const VT ad = FN(vabs)(d);
        const MT good = VLE(ad, lim);                 /* not NaN, not infinite, not tiny */
        const VT r = VSEL(good, VADD(VMAX(d, VZERO()), FN(vsoftplus_neg)(ad)), vnan);
        const MT keep = VGE(yv, VZERO());            /* kept rows (none past nr) */
        FN(xent_put)(r, good, keep, nr, r_out + r0, &acc, &kept, &redo);
    }
    FN(xent_sums)(acc, kept, sums);
    return redo;
}
#endif

/* r_i = lse_i - x_{i,y_i} = (m_i - x_{i,y_i}) + log1p(s_i) of `rows` <=
 * FX_GROUP rows of C <= FX_SMALL_C classes, VL rows at a time across rows
 * (the tile of stats_small), all in float with the label's logit picked
 * by a compare per class (no gather); written in double.  Rows whose
 * maximum is not finite, that hold a NaN, or whose sum is small enough for
 * flushed terms to matter come out NaN: the caller redoes them with
 * stats_row; the return value is nonzero when a kept row is such a row.
 * Kept rows: label in [0, C) and not `ign`; for the others r is
 * unspecified.  sums[0] += the sum of r over the kept rows that are not
 * NaN, sums[1] += the number of kept rows; *bad += the number of labels
 * outside [0, C) that are not `ign`. */
static int FN(xent_small)(const FX_T *x, const int64_t *y, ptrdiff_t rows, ptrdiff_t C, int64_t ign,
                          double *r_out, double *sums, int *bad, ptrdiff_t pfd)
{
#if FX_SP_TABLE
    if (C == 2)
        return FN(xent_pair)(x, y, rows, ign, r_out, sums, bad, pfd);
#endif
    int redo = 0;
    FX_T tile[(FX_SMALL_C + VL) * VL];     /* to_tile writes whole VL x VL blocks */
    FX_T dms[FX_GROUP], ss[FX_GROUP], ys[FX_GROUP];   /* m - x_y, s, kept label: between the stages */
    const VT guard = VSET((FX_T)((double)C * FX_FLUSH_GUARD)), vnan = VSET(NAN);
    /* Two stages over the group, each a loop whose iterations are
     * independent: one pass that did it all per VL rows was one dependency
     * chain (exp, then log) longer than the out-of-order window, and ran at
     * half the speed. */
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += VL) {
        const int nr = rows - r0 < VL ? (int)(rows - r0) : VL;
        const FX_T *xr = x + r0 * C;
        FN(prefetch_group)(xr, C, pfd);
        FN(prefetch_labels)(y + r0);

        const VT yv = FN(vlabels)(y + r0, nr, C, ign, bad);
        VSTOREU(ys + r0, yv);
        VT m, k, xy, s;
        if (C == 2) {
            FN(pair_stats)(xr, nr, yv, &m, &k, &xy, &s);
        } else {
            FN(group_max)(xr, nr, C, tile, yv, &m, NULL, &xy);
            s = FN(group_sum)(tile, C, m, NULL);
        }
        /* a non-finite maximum (m - m is NaN): s NaN, for stage two to see */
        VSTOREU(ss + r0, VSEL(VEQ(VSUB(m, m), VZERO()), s, vnan));
        VSTOREU(dms + r0, VSUB(m, xy));
    }
    /* the kept rows' r summed in float, then in double (xent_sums) */
    VT acc = VZERO();
    int kept = 0;
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += VL) {
        const int nr = rows - r0 < VL ? (int)(rows - r0) : VL;
        const VT s = VLOADU(ss + r0);
        const MT good = VGE(s, guard);           /* not NaN, not below the guard */
        const VT r = VSEL(good, VADD(VLOADU(dms + r0), FN(vlog1p_pos)(VSEL(good, s, VZERO()))), vnan);
        const MT keep = VGE(VLOADU(ys + r0), VZERO());   /* kept rows (none past nr) */
        FN(xent_put)(r, good, keep, nr, r_out + r0, &acc, &kept, &redo);
    }
    FN(xent_sums)(acc, kept, sums);
    return redo;
}
#endif

