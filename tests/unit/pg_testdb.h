/*
 * pg_testdb.h — a fresh PostgreSQL database for a unit test of the
 * PostgreSQL backend (header-only; tests/unit/test_pg_*.c).
 *
 * The cluster is the throw-away one `make test-pg` starts (pg_virtualenv:
 * PGHOST, PGPORT, PGUSER, PGPASSWORD in the environment). pg_testdb()
 * creates a database of its own for this process, named after the test
 * and the pid, and returns its URL (static); NULL when no cluster is
 * reachable (TALAASH_TEST_PG unset) — the test then prints a TAP skip.
 */
#ifndef TALAASH_PG_TESTDB_H
#define TALAASH_PG_TESTDB_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *pg_testdb(const char *test)
{
    static char url[200];
    char sql[200];

    if (getenv("TALAASH_TEST_PG") == NULL)
        return NULL;
    PGconn *c = PQconnectdb("dbname=postgres");
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "# pg_testdb: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s_%ld", test, (long)getpid());
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "# pg_testdb: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    if (!ok)
        return NULL;
    snprintf(url, sizeof(url), "postgresql:///%s_%ld", test, (long)getpid());
    return url;
}

/* One value of a query on url's database, as a number (-1 on error). */
static long long pg_testdb_value(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    long long v = -1;

    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
            v = atoll(PQgetvalue(r, 0, 0));
        else
            fprintf(stderr, "# pg_testdb_value %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

#endif
