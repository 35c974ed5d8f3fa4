#!/usr/bin/env bash
# Start or stop a local PostgreSQL for development and tests, and create the two roles and the
# databases the hub uses (least privilege, docs/security.md):
#   - role `hub_owner` (password `hub_owner`, may create databases): owns the databases, the
#     schemas and the tables; `hub db upgrade` runs as it (HUB_DATABASE_MIGRATION_URL);
#   - role `hub` (password `hub`): what the hub runs as (HUB_DATABASE_URL); owns nothing and is
#     granted only what the hub needs, by `hub db upgrade`;
#   - databases `hub` and `hub_test`, owned by `hub_owner`.
# Idempotent. On a cluster set up before the split (databases owned by `hub`), it adds the owner
# role and lets it create schemas, and says how to finish the split; it changes no ownership.
# Fails loudly when PostgreSQL cannot be started: tests never skip PostgreSQL.
#
#   deploy/local/postgres.sh start | stop | status
set -euo pipefail

ROLE=${HUB_PG_ROLE:-hub}
PASSWORD=${HUB_PG_PASSWORD:-hub}
OWNER_ROLE=${HUB_PG_OWNER_ROLE:-hub_owner}
OWNER_PASSWORD=${HUB_PG_OWNER_PASSWORD:-hub_owner}
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
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$OWNER_ROLE') THEN
        CREATE ROLE $OWNER_ROLE LOGIN CREATEDB PASSWORD '$OWNER_PASSWORD';
    END IF;
    -- The runtime role: LOGIN and nothing else (no CREATEDB, CREATEROLE or SUPERUSER).
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
        CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD';
    END IF;
END
\$\$;
SQL
    for database in $DATABASES; do
        if ! as_postgres psql -p "$PORT" -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
            as_postgres createdb -p "$PORT" -O "$OWNER_ROLE" "$database"
        fi
        owner=$(as_postgres psql -p "$PORT" -tAc "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '$database'")
        if [ "$owner" != "$OWNER_ROLE" ]; then
            # Set up before the split: the owner role may at least create the schemas tests and
            # deployments put the hub's tables in.
            as_postgres psql -q -p "$PORT" -v ON_ERROR_STOP=1 -c "GRANT CONNECT, CREATE ON DATABASE $database TO $OWNER_ROLE"
            echo "postgres.sh: database $database is owned by $owner, not $OWNER_ROLE: to finish the split," \
                "as postgres: ALTER DATABASE $database OWNER TO $OWNER_ROLE; and, in $database," \
                "REASSIGN OWNED BY $owner TO $OWNER_ROLE (then hub db upgrade as $OWNER_ROLE)" >&2
        fi
    done
    echo "PostgreSQL $VERSION/$NAME is up on 127.0.0.1:$PORT (owner role $OWNER_ROLE, runtime role $ROLE; databases: $DATABASES)"
}

stop() { cluster; [ "$STATUS" = online ] && pg_ctlcluster "$VERSION" "$NAME" stop; echo "stopped"; }

status() { cluster; echo "PostgreSQL $VERSION/$NAME: $STATUS on port $PORT"; }

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
