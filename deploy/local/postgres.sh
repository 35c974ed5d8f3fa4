#!/usr/bin/env bash
# Start or stop a local PostgreSQL for development and tests, and create the role and databases
# the hub uses: role `hub` (password `hub`, may create databases), databases `hub` and `hub_test`.
# Fails loudly when PostgreSQL cannot be started: tests never skip PostgreSQL.
#
#   deploy/local/postgres.sh start | stop | status
set -euo pipefail

ROLE=${HUB_PG_ROLE:-hub}
PASSWORD=${HUB_PG_PASSWORD:-hub}
DATABASES=${HUB_PG_DATABASES:-"hub hub_test"}

die() { echo "postgres.sh: $*" >&2; exit 1; }

as_postgres() { if [ "$(id -un)" = postgres ]; then "$@"; else su postgres -c "$(printf '%q ' "$@")"; fi; }

cluster() {
    command -v pg_lsclusters >/dev/null || {
        [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed and we are not root to install it"
        echo "postgres.sh: installing PostgreSQL from Debian's packages" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; } \
            || die "could not install PostgreSQL"
    }
    local line
    line=$(pg_lsclusters --no-header | sort -k1,1nr | head -n 1)
    [ -n "$line" ] || die "no PostgreSQL cluster exists (pg_createcluster 15 main to make one)"
    read -r VERSION NAME PORT STATUS _ <<<"$line"
}

start() {
    cluster
    if [ "$STATUS" != online ]; then
        pg_ctlcluster "$VERSION" "$NAME" start || die "pg_ctlcluster $VERSION $NAME start failed (see /var/log/postgresql/)"
    fi
    for _ in $(seq 1 60); do
        pg_isready -q -h 127.0.0.1 -p "$PORT" && break
        sleep 0.5
    done
    pg_isready -q -h 127.0.0.1 -p "$PORT" || die "PostgreSQL $VERSION/$NAME did not answer on 127.0.0.1:$PORT"
    as_postgres psql -q -p "$PORT" -v ON_ERROR_STOP=1 <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
        CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
    END IF;
END
\$\$;
SQL
    for database in $DATABASES; do
        if ! as_postgres psql -p "$PORT" -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
            as_postgres createdb -p "$PORT" -O "$ROLE" "$database"
        fi
    done
    echo "PostgreSQL $VERSION/$NAME is up on 127.0.0.1:$PORT (role $ROLE; databases: $DATABASES)"
}

stop() { cluster; [ "$STATUS" = online ] && pg_ctlcluster "$VERSION" "$NAME" stop; echo "stopped"; }

status() { cluster; echo "PostgreSQL $VERSION/$NAME: $STATUS on port $PORT"; }

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
