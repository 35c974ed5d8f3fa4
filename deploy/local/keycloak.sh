#!/usr/bin/env bash
# Start or stop a local Keycloak in development mode, on loopback, for the console's sign-in in
# development and tests: the identity provider people sign in through (issue 16). The
# distribution is resolved from Maven Central (`org.keycloak:keycloak-quarkus-dist:VERSION:tar.gz`)
# with `mvn dependency:copy` into a cache folder outside the repository and unpacked there; there
# is no Docker. Every start imports the realm in deploy/local/keycloak/realm-pph.json into an
# in-memory database (`--db=dev-mem`), so a restart always gives the same users and groups.
# Fails loudly when Keycloak cannot be started: the console's tests never skip in CI.
#
#   deploy/local/keycloak.sh start | stop | status | env
#
# `env` prints the hub settings that point the console at this Keycloak (eval-able).
#
# Environment (all optional):
#   HUB_KEYCLOAK_HOME           cache folder: distribution, logs, pid      (~/.cache/pph-keycloak)
#   HUB_KEYCLOAK_VERSION        Keycloak version on Maven Central          (26.7.3)
#   HUB_KEYCLOAK_HOST           address it listens on                      (127.0.0.1)
#   HUB_KEYCLOAK_PORT           HTTP port                                  (8180)
#   HUB_KEYCLOAK_MANAGEMENT_PORT  health and metrics port                  (HUB_KEYCLOAK_PORT + 1)
#   HUB_KEYCLOAK_HEAP           JVM heap options                           (-Xms64m -Xmx768m)
#   HUB_KEYCLOAK_START_TIMEOUT  seconds to wait until the realm answers    (600)
set -euo pipefail

KC_CACHE=${HUB_KEYCLOAK_HOME:-$HOME/.cache/pph-keycloak}
VERSION=${HUB_KEYCLOAK_VERSION:-26.7.3}
HOST=${HUB_KEYCLOAK_HOST:-127.0.0.1}
PORT=${HUB_KEYCLOAK_PORT:-8180}
MANAGEMENT_PORT=${HUB_KEYCLOAK_MANAGEMENT_PORT:-$((PORT + 1))}
HEAP=${HUB_KEYCLOAK_HEAP:-"-Xms64m -Xmx768m"}
START_TIMEOUT=${HUB_KEYCLOAK_START_TIMEOUT:-600}
STOP_TIMEOUT=${HUB_KEYCLOAK_STOP_TIMEOUT:-60}

HERE=$(cd "$(dirname "$0")" && pwd)
REALM_FILE=$HERE/keycloak/realm-pph.json
REALM=pph
CLIENT_ID=pph-console

VERSION_DIR=$KC_CACHE/$VERSION
DIST=$VERSION_DIR/keycloak-$VERSION
INSTANCE=$KC_CACHE/instance-$PORT
PIDFILE=$INSTANCE/keycloak.pid
CONSOLE=$INSTANCE/console.log
ISSUER=http://$HOST:$PORT/realms/$REALM

die() { echo "keycloak.sh: $*" >&2; exit 1; }
say() { echo "keycloak.sh: $*" >&2; }

need() { command -v "$1" >/dev/null || die "$1 is not installed ($2)"; }

# Resolve and unpack the distribution once per version. `.complete` is written last, so an
# interrupted download or unpacking is redone rather than half used.
resolve() {
    [ -f "$DIST/.complete" ] && return
    need mvn "Maven resolves Keycloak's distribution from Maven Central"
    mkdir -p "$VERSION_DIR"
    local tarball=$VERSION_DIR/download/keycloak-quarkus-dist-$VERSION.tar.gz
    if [ ! -f "$tarball" ]; then
        say "resolving org.keycloak:keycloak-quarkus-dist:$VERSION:tar.gz from Maven Central"
        mvn -B -q dependency:copy -Dartifact="org.keycloak:keycloak-quarkus-dist:$VERSION:tar.gz" \
            -DoutputDirectory="$VERSION_DIR/download" >"$VERSION_DIR/mvn.log" 2>&1 \
            || { tail -n 30 "$VERSION_DIR/mvn.log" >&2; die "mvn could not resolve Keycloak $VERSION (log: $VERSION_DIR/mvn.log)"; }
    fi
    rm -rf "$DIST" "$VERSION_DIR/unpack"
    mkdir -p "$VERSION_DIR/unpack"
    tar -xzf "$tarball" -C "$VERSION_DIR/unpack" || die "could not unpack $tarball"
    mv "$VERSION_DIR/unpack/keycloak-$VERSION" "$DIST"
    rmdir "$VERSION_DIR/unpack"
    touch "$DIST/.complete"
    say "unpacked Keycloak $VERSION into $DIST"
}

# The pid of our Keycloak if it runs (a stale pid file, or a reused pid, counts as not running).
running_pid() {
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid=$(cat "$PIDFILE")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--http-port=$PORT" || return 1
    echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

# Ready means the realm was imported and serves its discovery document, not only that the port
# accepts connections.
answers() {
    port_open || return 1
    curl -fsS -o /dev/null --max-time 5 "$ISSUER/.well-known/openid-configuration"
}

# Waits until the realm answers, as long as Keycloak (pid $1) lives and START_TIMEOUT allows.
wait_ready() {
    local pid=$1 deadline=$((SECONDS + START_TIMEOUT))
    until answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$CONSOLE" >&2
            die "Keycloak exited while starting (see $CONSOLE)"
        fi
        [ $SECONDS -lt $deadline ] || die "Keycloak's realm did not answer at $ISSUER within $START_TIMEOUT s (pid $pid; see $CONSOLE)"
        sleep 1
    done
}

start() {
    local pid
    # One start at a time (CI starts Keycloak in the background, then `make test` and the tests'
    # fixture ask again): a second `start` waits for the first, then finds Keycloak up.
    mkdir -p "$KC_CACHE"
    exec 9>"$KC_CACHE/start-$PORT.lock"
    flock 9
    if pid=$(running_pid); then
        # Already up, or still starting (another `start`, e.g. in the background in CI): wait.
        answers || { say "Keycloak (pid $pid) is starting; waiting for its realm"; wait_ready "$pid"; }
        echo "Keycloak $VERSION is already up at $ISSUER (pid $pid)"
        return
    fi
    port_open && die "$HOST:$PORT is already taken by another process"
    need java "Java 17 or later runs Keycloak"
    need curl "the readiness probe asks the realm's discovery document"
    [ -f "$REALM_FILE" ] || die "no realm file at $REALM_FILE"
    resolve
    mkdir -p "$INSTANCE" "$DIST/data/import"
    # The realm is imported from the distribution's import folder at every start (dev-mem).
    cp "$REALM_FILE" "$DIST/data/import/realm-$REALM.json"
    : >"$CONSOLE"
    local began=$SECONDS
    # setsid: Keycloak outlives this script and the shell (or test) that started it; it does
    # not inherit the start lock (fd 9), which would otherwise be held while it runs.
    KC_BOOTSTRAP_ADMIN_USERNAME=${HUB_KEYCLOAK_ADMIN:-admin} \
    KC_BOOTSTRAP_ADMIN_PASSWORD=${HUB_KEYCLOAK_ADMIN_PASSWORD:-admin} \
    JAVA_OPTS_KC_HEAP="$HEAP" \
        setsid "$DIST/bin/kc.sh" start-dev --db=dev-mem --import-realm \
            --http-host="$HOST" --http-port="$PORT" --http-management-port="$MANAGEMENT_PORT" \
            --hostname-strict=false --log-level=warn \
            </dev/null >>"$CONSOLE" 2>&1 9>&- &
    pid=$!
    echo "$pid" >"$PIDFILE"
    wait_ready "$pid"
    echo "Keycloak $VERSION is up at $ISSUER in $((SECONDS - began)) s (pid $pid; log $CONSOLE)"
}

# kc.sh execs java as the process we started, so TERM reaches Keycloak itself.
stop() {
    local pid
    if ! pid=$(running_pid); then
        rm -f "$PIDFILE"
        echo "stopped (was not running)"
        return
    fi
    kill -TERM "$pid"
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            kill -KILL "$pid" 2>/dev/null || true
            rm -f "$PIDFILE"
            die "Keycloak (pid $pid) did not stop within $STOP_TIMEOUT s of SIGTERM; killed it"
        fi
        sleep 0.5
    done
    rm -f "$PIDFILE"
    echo "stopped"
}

status() {
    local pid
    if pid=$(running_pid); then
        if answers; then
            echo "Keycloak $VERSION: up at $ISSUER (pid $pid)"
        else
            echo "Keycloak $VERSION: running (pid $pid) but its realm does not answer at $ISSUER"
            return 1
        fi
    else
        echo "Keycloak $VERSION: down ($HOST:$PORT)"
        return 3
    fi
}

# The settings that point the hub's console at this Keycloak and map its groups to hub roles.
env_settings() {
    cat <<ENV
export HUB_OIDC_ISSUER=$ISSUER
export HUB_OIDC_CLIENT_ID=$CLIENT_ID
export HUB_CONSOLE_ROLE_CLAIM=groups
export HUB_CONSOLE_AGENCY_CLAIM=agency
export HUB_CONSOLE_ROLE_MAP='{"hub-dpo": "dpo", "hub-operator": "operator", "hub-mappa-lanarkshire": "mappa-coordinator:mappa-lanarkshire", "hub-mappa-glasgow": "mappa-coordinator:mappa-glasgow"}'
ENV
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) env_settings ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
