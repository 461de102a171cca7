/*
 * test_casenum.c — Damm check digits and case numbers (parsers/casenum.h).
 */
#include "parsers/casenum.h"
#include "tests/tap.h"

#include <stdbool.h>
#include <stdint.h>

int main(void)
{
    char num[TL_CASENUM_LEN + 1];

    /* known vectors (Wikipedia "Damm algorithm": 572 -> 4) */
    is_int(damm_check_digit("572", 3), 4, "Damm check digit of 572 is 4");
    is_int(damm_check_digit("5724", 4), 0, "5724 checks to 0");
    is_int(damm_check_digit("", 0), 0, "empty input has check digit 0");
    is_int(damm_check_digit("0", 1), 0, "0 has check digit 0");
    is_int(damm_check_digit("00123", 5), 4, "00123 has check digit 4");
    is_int(damm_check_digit("12a", 3), -1, "a non-digit gives -1");
    is_int(damm_check_digit("1 2", 3), -1, "a space gives -1");

    /* casenum_make */
    casenum_make(123, num);
    is_str(num, "001234", "casenum_make(123) zero-pads and appends the check digit");
    casenum_make(0, num);
    is_str(num, "000000", "casenum_make(0)");
    casenum_make(57200, num);
    is_int(num[5] - '0', damm_check_digit("57200", 5), "casenum_make(57200) check digit");
    casenum_make(100000u + 48291u, num);
    is_int(memcmp(num, "48291", 5), 0, "casenum_make uses random_value %% 100000");
    casenum_make(UINT32_MAX, num);
    is_int(memcmp(num, "67295", 5), 0, "casenum_make(UINT32_MAX) uses the low five digits");
    ok(casenum_valid(num, 6), "casenum_make(UINT32_MAX) is valid");

    /* casenum_valid */
    ok(casenum_valid("001234", 6), "001234 valid");
    ok(casenum_valid("572400", 6) == (damm_check_digit("572400", 6) == 0), "572400 consistent");
    ok(!casenum_valid("001235", 6), "001235: wrong check digit");
    ok(!casenum_valid("01234", 5), "five digits refused");
    ok(!casenum_valid("0012340", 7), "seven digits refused");
    ok(!casenum_valid("00123a", 6), "letter refused");
    ok(!casenum_valid("00 234", 6), "space refused");
    ok(!casenum_valid("", 0), "empty refused");
    ok(!casenum_valid(NULL, 6), "NULL refused");
    ok(casenum_valid("0012349", 6), "only len bytes are read");

    /* Every generated number is valid; every single-digit substitution and
     * every adjacent transposition (of two different digits) is caught. */
    long invalid = 0, subst_miss = 0, subst_total = 0, swap_miss = 0, swap_total = 0;
    for (uint32_t v = 0; v < 100000u; v++) {
        casenum_make(v, num);
        if (!casenum_valid(num, 6))
            invalid++;
        for (int i = 0; i < 6; i++) {
            char orig = num[i];
            for (char c = '0'; c <= '9'; c++) {
                if (c == orig)
                    continue;
                num[i] = c;
                subst_total++;
                if (casenum_valid(num, 6))
                    subst_miss++;
            }
            num[i] = orig;
        }
        for (int i = 0; i < 5; i++) {
            char a = num[i], b = num[i + 1];
            if (a == b)
                continue;
            num[i] = b;
            num[i + 1] = a;
            swap_total++;
            if (casenum_valid(num, 6))
                swap_miss++;
            num[i] = a;
            num[i + 1] = b;
        }
    }
    is_int(invalid, 0, "all 100000 generated case numbers are valid");
    is_int(subst_total, 100000L * 6 * 9, "every single-digit substitution tried");
    is_int(subst_miss, 0, "no single-digit substitution goes undetected");
    ok(swap_total > 400000, "adjacent transpositions tried: %ld", swap_total);
    is_int(swap_miss, 0, "no adjacent transposition goes undetected");

    /* exactly one valid number per five-digit prefix: 100000 of 1000000 */
    long nvalid = 0;
    for (uint32_t v = 0; v < 1000000u; v++) {
        char s[7];
        uint32_t x = v;
        for (int i = 5; i >= 0; i--) {
            s[i] = (char)('0' + x % 10u);
            x /= 10u;
        }
        if (casenum_valid(s, 6))
            nvalid++;
    }
    is_int(nvalid, 100000, "exactly 100000 of the 1000000 six-digit strings are valid");

    return done_testing();
}
