/*
 * gazetteer_data.h — the shipped gazetteer, compiled in from
 * data/areas/pakistan.csv by scripts/csv2c.sh (see the Makefile): its lines,
 * each ending in '\n', NULL-terminated.
 */
#ifndef TALAASH_GAZETTEER_DATA_H
#define TALAASH_GAZETTEER_DATA_H

extern const char *const gazetteer_default_csv[];

#endif
