/*
 * casenum.c — Damm check digits and six-digit case numbers (see casenum.h).
 */
#include "parsers/casenum.h"

/*
 * The standard Damm quasigroup of order 10 (Damm 2004; the table printed in
 * the Wikipedia article "Damm algorithm"): zero diagonal, weakly totally
 * anti-symmetric, so every single-digit error and every adjacent
 * transposition changes the final interim digit.
 */
static const unsigned char damm_table[10][10] = {
    {0, 3, 1, 7, 5, 9, 8, 6, 4, 2}, {7, 0, 9, 2, 1, 5, 4, 8, 6, 3},
    {4, 2, 0, 6, 8, 7, 1, 3, 5, 9}, {1, 7, 5, 0, 9, 8, 3, 4, 2, 6},
    {6, 1, 2, 3, 0, 4, 5, 9, 7, 8}, {3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
    {5, 8, 6, 9, 7, 2, 0, 1, 3, 4}, {8, 9, 4, 5, 3, 6, 2, 0, 1, 7},
    {9, 4, 3, 8, 6, 1, 7, 2, 0, 5}, {2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
};

int damm_check_digit(const char *digits, size_t n)
{
    unsigned interim = 0;

    for (size_t i = 0; i < n; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return -1;
        interim = damm_table[interim][digits[i] - '0'];
    }
    return (int)interim;
}

bool casenum_valid(const char *s, size_t len)
{
    return s != NULL && len == TL_CASENUM_LEN && damm_check_digit(s, len) == 0;
}

void casenum_make(uint32_t random_value, char out[TL_CASENUM_LEN + 1])
{
    uint32_t v = random_value % 100000u;

    for (int i = TL_CASENUM_LEN - 2; i >= 0; i--) {
        out[i] = (char)('0' + v % 10u);
        v /= 10u;
    }
    out[TL_CASENUM_LEN - 1] = (char)('0' + damm_check_digit(out, TL_CASENUM_LEN - 1));
    out[TL_CASENUM_LEN] = '\0';
}
