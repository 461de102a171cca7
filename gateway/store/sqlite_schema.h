/*
 * store_schema.h — the SQLite backend's migrations, oldest first (internal to sqlite*.c).
 *
 * Migration i (0-based) takes a store from user_version i to i+1. A released
 * migration is never edited: add a new one at the end.
 */
#ifndef TALAASH_SQLITE_SCHEMA_H
#define TALAASH_SQLITE_SCHEMA_H

#include <stddef.h>

/* Each migration is a NULL-terminated list of SQL statements. */
extern const char *const *const store_migrations[];
extern const size_t store_nmigrations;

#endif
