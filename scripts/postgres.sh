#!/usr/bin/env bash
# Makes a local PostgreSQL server ready for the tests and prints its URL: installs Debian's package if
# it is missing (as root), starts the cluster, creates the role `daifa`. Prints nothing and exits 0
# when it cannot (not root, no apt): the PostgreSQL variants of the tests then skip, unless
# DAIFA_CI is set, as CI sets it.
set -uo pipefail

URL="postgresql+psycopg://daifa:daifa@127.0.0.1:5432/postgres"

if ! command -v pg_lsclusters >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "postgres.sh: PostgreSQL is not installed and cannot be installed here" >&2
        exit 0
    fi
    echo "postgres.sh: installing PostgreSQL from Debian" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1; } \
        || { echo "postgres.sh: apt-get install postgresql failed" >&2; exit 0; }
fi

read -r version cluster _ < <(pg_lsclusters --no-header | head -n 1)
if [ -z "${version:-}" ]; then
    echo "postgres.sh: no PostgreSQL cluster found" >&2
    exit 0
fi
pg_ctlcluster "$version" "$cluster" start >/dev/null 2>&1 || true

as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -c "$1"; else sh -c "$1"; fi; }
for _ in $(seq 1 30); do
    as_postgres "psql -qAtc 'select 1'" >/dev/null 2>&1 && break
    sleep 0.5
done
if ! as_postgres "psql -qAtc \"select 1 from pg_roles where rolname = 'daifa'\"" 2>/dev/null | grep -q 1; then
    as_postgres "psql -qc \"create role daifa login createdb password 'daifa'\"" >/dev/null 2>&1 \
        || { echo "postgres.sh: could not create the role daifa" >&2; exit 0; }
fi
# DROP DATABASE ... WITH (FORCE) in the tests may have to end an autovacuum worker on the test database.
as_postgres "psql -qc 'grant pg_signal_backend to daifa'" >/dev/null 2>&1 || true
echo "$URL"
