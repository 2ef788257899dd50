/* pvstream-host's plan: the exact integer split, Min/Optimal/Max, warnings,
 * and the errors for bad input. */
#include <string.h>

#include "common/error.h"
#include "host/plan.h"
#include "test.h"

static uint64_t sum_of(const struct pvs_plan *p, int r)
{
    uint64_t s = 0;
    for (int i = 0; i < p->vms; i++)
        s += p->vm[i].res[r].optimal;
    return s;
}

/* Every resource adds up to its total exactly and Min <= Optimal <= Max. */
static void check_invariants(const struct pvs_plan *p)
{
    for (int r = 0; r < PVS_GPU_RESOURCE_COUNT; r++) {
        CHECK(sum_of(p, r) == p->total[r]);
        for (int i = 0; i < p->vms; i++) {
            const struct pvs_plan_amount *a = &p->vm[i].res[r];
            CHECK(a->min <= a->optimal && a->optimal <= a->max);
        }
    }
}

static void test_thirds(void)
{
    struct pvs_plan_request req;
    struct pvs_plan p;
    char err[256];
    pvs_plan_request_hyperv(&req, 3);
    CHECK_INT(pvs_plan_compute(&req, &p, err, sizeof(err)), ==, 0);
    CHECK_INT(p.vms, ==, 3);
    /* The 33 % case: never 330033003. */
    CHECK_INT(p.vm[0].res[PVS_GPU_VRAM].optimal, ==, 333333334);
    CHECK_INT(p.vm[1].res[PVS_GPU_VRAM].optimal, ==, 333333333);
    CHECK_INT(p.vm[2].res[PVS_GPU_VRAM].optimal, ==, 333333333);
    for (int r = 0; r < PVS_GPU_RESOURCE_COUNT; r++)
        if (r != PVS_GPU_ENCODE)
            for (int i = 0; i < 3; i++)
                CHECK(p.vm[i].res[r].optimal == p.vm[i].res[PVS_GPU_VRAM].optimal);
    /* 2^64 - 1 is divisible by 3. */
    for (int i = 0; i < 3; i++) {
        CHECK(p.vm[i].res[PVS_GPU_ENCODE].optimal == 6148914691236517205ull);
        CHECK(p.vm[i].res[PVS_GPU_ENCODE].min == 6148914691236517205ull);
        CHECK(p.vm[i].res[PVS_GPU_VRAM].min == p.vm[i].res[PVS_GPU_VRAM].max);
        CHECK_INT(p.vm[i].weight, ==, 1);
    }
    check_invariants(&p);
    CHECK(p.warnings == PVS_PLAN_WARN_ADVISORY);
}

static void test_u64_max(void)
{
    uint64_t s[PVS_PLAN_MAX_VMS];
    /* 2 ways: 2^63 - 1 and a remainder of 1 to the first. */
    CHECK_INT(pvs_plan_split(UINT64_MAX, NULL, 2, s), ==, 0);
    CHECK(s[0] == 9223372036854775808ull && s[1] == 9223372036854775807ull);
    /* 7 ways, weights up to the limit: the sum never wraps. */
    uint32_t w[7] = { 1, PVS_PLAN_MAX_WEIGHT, 3, PVS_PLAN_MAX_WEIGHT, 5, 6, 7 };
    CHECK_INT(pvs_plan_split(UINT64_MAX, w, 7, s), ==, 0);
    uint64_t sum = 0;
    for (int i = 0; i < 7; i++) {
        CHECK(sum + s[i] >= sum);
        sum += s[i];
    }
    CHECK(sum == UINT64_MAX);
    CHECK(s[1] == s[3]);
    CHECK(s[1] > s[0]);
    /* 64 ways of 2^64 - 1: remainder 63 handed out in index order. */
    CHECK_INT(pvs_plan_split(UINT64_MAX, NULL, 64, s), ==, 0);
    for (int i = 0; i < 64; i++)
        CHECK(s[i] == (i < 63 ? 288230376151711744ull : 288230376151711743ull));
}

static void test_weights(void)
{
    struct pvs_plan_request req;
    struct pvs_plan p;
    char err[256];
    uint32_t w[3] = { 1, 2, 3 };
    pvs_plan_request_hyperv(&req, 3);
    req.weights = w;
    CHECK_INT(pvs_plan_compute(&req, &p, err, sizeof(err)), ==, 0);
    /* 1e9 / 6 = 166666666.67: fractions 4/6, 2/6 (x2 = 8 mod 6), 0. */
    CHECK_INT(p.vm[0].res[PVS_GPU_VRAM].optimal, ==, 166666667);
    CHECK_INT(p.vm[1].res[PVS_GPU_VRAM].optimal, ==, 333333333);
    CHECK_INT(p.vm[2].res[PVS_GPU_VRAM].optimal, ==, 500000000);
    CHECK_INT(p.vm[2].weight, ==, 3);
    check_invariants(&p);

    /* An uneven weight: 1,1,5 of 10 units. 10*1/7 = 1.43, 10*5/7 = 7.14;
     * floors 1+1+7 = 9, the unit left goes to the largest fraction (3/7,
     * VM 1 before VM 2 on the tie), not to the biggest VM. */
    uint32_t w2[3] = { 1, 1, 5 };
    uint64_t s[3];
    CHECK_INT(pvs_plan_split(10, w2, 3, s), ==, 0);
    CHECK_INT(s[0], ==, 2);
    CHECK_INT(s[1], ==, 1);
    CHECK_INT(s[2], ==, 7);
    /* Fractions differ: 5,1,1 of 10: 7.14, 1.43, 1.43 -> 7, 2, 1. */
    uint32_t w3[3] = { 5, 1, 1 };
    CHECK_INT(pvs_plan_split(10, w3, 3, s), ==, 0);
    CHECK_INT(s[0], ==, 7);
    CHECK_INT(s[1], ==, 2);
    CHECK_INT(s[2], ==, 1);
    /* Largest fraction wins over a lower index: 2,3 of 4 units:
     * 1.6 and 2.4 -> floors 1, 2; fractions 0.6 > 0.4 -> VM 0 gets it. */
    uint32_t w4[2] = { 2, 3 };
    CHECK_INT(pvs_plan_split(4, w4, 2, s), ==, 0);
    CHECK_INT(s[0], ==, 2);
    CHECK_INT(s[1], ==, 2);
    uint32_t w5[2] = { 3, 2 };
    CHECK_INT(pvs_plan_split(4, w5, 2, s), ==, 0);
    CHECK_INT(s[0], ==, 2);
    CHECK_INT(s[1], ==, 2);
    /* Fewer units than VMs: 2 units, 5 VMs: the first two get one. */
    uint64_t s5[5];
    CHECK_INT(pvs_plan_split(2, NULL, 5, s5), ==, 0);
    CHECK(s5[0] == 1 && s5[1] == 1 && s5[2] == 0 && s5[3] == 0 && s5[4] == 0);
    /* Nothing to split. */
    CHECK_INT(pvs_plan_split(0, NULL, 5, s5), ==, 0);
    CHECK(s5[0] == 0 && s5[4] == 0);
}

static void test_32_vms(void)
{
    struct pvs_plan_request req;
    struct pvs_plan p, again;
    char err[256];
    pvs_plan_request_hyperv(&req, 32);
    CHECK_INT(pvs_plan_compute(&req, &p, err, sizeof(err)), ==, 0);
    /* 1e9 = 32 * 31250000: no remainder at all. */
    for (int i = 0; i < 32; i++)
        CHECK_INT(p.vm[i].res[PVS_GPU_VRAM].optimal, ==, 31250000);
    /* 2^64 - 1 = 32 * (2^59) - 1: 31 remainder units to VMs 0..30. */
    for (int i = 0; i < 32; i++)
        CHECK(p.vm[i].res[PVS_GPU_ENCODE].optimal ==
              (i < 31 ? 576460752303423488ull : 576460752303423487ull));
    check_invariants(&p);
    /* Deterministic: the same request gives the same plan. */
    CHECK_INT(pvs_plan_compute(&req, &again, err, sizeof(err)), ==, 0);
    CHECK(memcmp(&p, &again, sizeof(p)) == 0);

    /* 7 VMs, varied weights, a total with a big remainder. */
    uint32_t w[7] = { 3, 1, 4, 1, 5, 9, 2 };
    pvs_plan_request_hyperv(&req, 7);
    req.weights = w;
    req.total[PVS_GPU_VRAM] = 999999999999ull;
    CHECK_INT(pvs_plan_compute(&req, &p, err, sizeof(err)), ==, 0);
    check_invariants(&p);
    /* Each share is within one unit of the exact T * w / W. */
    for (int i = 0; i < 7; i++) {
        uint64_t q, rem;
        pvs_plan_muldiv_portable(999999999999ull, w[i], 25, &q, &rem);
        uint64_t got = p.vm[i].res[PVS_GPU_VRAM].optimal;
        CHECK(got == q || (got == q + 1 && rem != 0));
    }
}

static void test_min_percent(void)
{
    struct pvs_plan_request req;
    struct pvs_plan p;
    char err[256];
    pvs_plan_request_hyperv(&req, 3);
    req.min_percent = 80;
    CHECK_INT(pvs_plan_compute(&req, &p, err, sizeof(err)), ==, 0);
    CHECK_INT(p.vm[0].res[PVS_GPU_VRAM].min, ==, 266666667);  /* 333333334 * 0.8 = 266666667.2 */
    CHECK_INT(p.vm[1].res[PVS_GPU_VRAM].min, ==, 266666666);
    /* 6148914691236517205 * 80 / 100, floored, without overflow. */
    CHECK(p.vm[0].res[PVS_GPU_ENCODE].min == 4919131752989213764ull);
    check_invariants(&p);
    req.min_percent = 101;
    CHECK_INT(pvs_plan_compute(&req, &p, err, sizeof(err)), ==, PVS_EINVAL);
}

static void test_warnings(void)
{
    struct pvs_plan_request req;
    struct pvs_plan p;
    char err[256];
    pvs_plan_request_hyperv(&req, 4);
    req.advisory = false;
    CHECK_INT(pvs_plan_compute(&req, &p, err, sizeof(err)), ==, 0);
    CHECK(p.warnings == 0);
    req.encode_sessions = 4;
    CHECK_INT(pvs_plan_compute(&req, &p, err, sizeof(err)), ==, 0);
    CHECK(p.warnings == 0);
    req.encode_sessions = 3;
    req.identical_gpus = 2;
    req.advisory = true;
    CHECK_INT(pvs_plan_compute(&req, &p, err, sizeof(err)), ==, 0);
    CHECK(p.warnings == PVS_PLAN_WARN_ALL);
    for (unsigned bit = 1; bit <= PVS_PLAN_WARN_ALL; bit <<= 1)
        CHECK(pvs_plan_warning_text(bit) != NULL);
    CHECK(pvs_plan_warning_text(8) == NULL);
}

static void test_errors(void)
{
    struct pvs_plan_request req;
    struct pvs_plan p;
    char err[256];
    pvs_plan_request_hyperv(&req, 0);
    CHECK_INT(pvs_plan_compute(&req, &p, err, sizeof(err)), ==, PVS_EINVAL);
    CHECK(strstr(err, "0 VMs") != NULL);
    CHECK_INT(p.vms, ==, 0);
    pvs_plan_request_hyperv(&req, 65);
    CHECK_INT(pvs_plan_compute(&req, &p, err, sizeof(err)), ==, PVS_EINVAL);
    CHECK(strstr(err, "at most 64") != NULL);
    pvs_plan_request_hyperv(&req, -1);
    CHECK_INT(pvs_plan_compute(&req, &p, err, sizeof(err)), ==, PVS_EINVAL);
    uint32_t w[2] = { 1, 0 };
    pvs_plan_request_hyperv(&req, 2);
    req.weights = w;
    CHECK_INT(pvs_plan_compute(&req, &p, err, sizeof(err)), ==, PVS_EINVAL);
    CHECK(strstr(err, "weight 2") != NULL);
    uint64_t s[2];
    CHECK_INT(pvs_plan_split(10, NULL, 0, s), ==, PVS_EINVAL);
    CHECK_INT(pvs_plan_split(10, w, 2, s), ==, PVS_EINVAL);
}

static void test_parse_weights(void)
{
    uint32_t w[PVS_PLAN_MAX_VMS];
    char err[256];
    CHECK_INT(pvs_plan_parse_weights("1,2,3", 3, w, err, sizeof(err)), ==, 0);
    CHECK(w[0] == 1 && w[1] == 2 && w[2] == 3);
    CHECK_INT(pvs_plan_parse_weights(" 4 , 5", 2, w, err, sizeof(err)), ==, 0);
    CHECK(w[0] == 4 && w[1] == 5);
    CHECK_INT(pvs_plan_parse_weights("1000000", 1, w, err, sizeof(err)), ==, 0);
    static const struct { const char *text; int vms; const char *why; } bad[] = {
        { "", 1, "item 1 is empty" },
        { "1,,2", 3, "item 2 is empty" },
        { "1,2,", 3, "item 3 is empty" },
        { "1, ,2", 3, "item 2 is empty" },
        { "1,a,2", 3, "item 2 'a' is not a whole number" },
        { "1,-2", 2, "item 2 '-2' is not a whole number" },
        { "1.5", 1, "not a whole number" },
        { "0,1", 2, "item 1 is 0" },
        { "1,1000001", 2, "item 2 is larger than 1000000" },
        { "99999999999999999999999", 1, "larger than" },
        { "1,2", 3, "2 weights for 3 VMs" },
        { "1,2,3,4", 3, "4 weights for 3 VMs" },
        { "1", 2, "1 weight for 2 VMs" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int rc = pvs_plan_parse_weights(bad[i].text, bad[i].vms, w, err, sizeof(err));
        CHECK_INT(rc, ==, PVS_EINVAL);
        if (!strstr(err, bad[i].why))
            fprintf(stderr, "weights '%s': got \"%s\", want \"%s\"\n", bad[i].text, err, bad[i].why);
        CHECK(strstr(err, bad[i].why) != NULL);
    }
}

static void test_parse_u64(void)
{
    uint64_t v = 1;
    CHECK_INT(pvs_plan_parse_u64("0", &v), ==, 0);
    CHECK(v == 0);
    CHECK_INT(pvs_plan_parse_u64("18446744073709551615", &v), ==, 0);
    CHECK(v == UINT64_MAX);
    CHECK_INT(pvs_plan_parse_u64("max", &v), ==, 0);
    CHECK(v == UINT64_MAX);
    CHECK_INT(pvs_plan_parse_u64("18446744073709551616", &v), ==, PVS_ERANGE);
    CHECK_INT(pvs_plan_parse_u64("99999999999999999999", &v), ==, PVS_ERANGE);
    CHECK_INT(pvs_plan_parse_u64("", &v), ==, PVS_EINVAL);
    CHECK_INT(pvs_plan_parse_u64("1e9", &v), ==, PVS_EINVAL);
    CHECK_INT(pvs_plan_parse_u64("-1", &v), ==, PVS_EINVAL);
}

/* The portable path gives what 128-bit arithmetic gives. */
static void test_muldiv(void)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t a = i % 5 == 0 ? UINT64_MAX - (uint64_t)i : x;
        uint64_t d = 1 + (x >> 20) % ((uint64_t)PVS_PLAN_MAX_VMS * PVS_PLAN_MAX_WEIGHT);
        uint32_t b = (uint32_t)(1 + (x >> 7) % (d < PVS_PLAN_MAX_WEIGHT ? d : PVS_PLAN_MAX_WEIGHT));
        uint64_t q, r;
        pvs_plan_muldiv_portable(a, b, d, &q, &r);
#if defined(__SIZEOF_INT128__)
        unsigned __int128 p = (unsigned __int128)a * b;
        if (q != (uint64_t)(p / d) || r != (uint64_t)(p % d)) {
            CHECK(0);
            break;
        }
#else
        CHECK(r < d);
#endif
    }
    CHECK(1);
}

int main(void)
{
    RUN(test_thirds);
    RUN(test_u64_max);
    RUN(test_weights);
    RUN(test_32_vms);
    RUN(test_min_percent);
    RUN(test_warnings);
    RUN(test_errors);
    RUN(test_parse_weights);
    RUN(test_parse_u64);
    RUN(test_muldiv);
    TEST_EXIT();
}
