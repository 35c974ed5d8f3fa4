#!/usr/bin/env bash
# Start or stop a local single-node Apache Kafka 4.x (KRaft: one process is broker and controller)
# for development and tests, on loopback. The broker's jars are resolved from Maven Central with
# `mvn dependency:copy-dependencies` into a cache folder outside the repository; there is no
# Docker and no downloaded tarball. Fails loudly when Kafka cannot be started: the Kafka tests
# never skip in CI.
#
#   deploy/local/kafka.sh start | stop | status
#
# Environment (all optional):
#   HUB_KAFKA_HOME       cache folder: jars, storage, logs, pid   (~/.cache/pph-kafka)
#   HUB_KAFKA_VERSION    Apache Kafka version on Maven Central    (4.2.1)
#   HUB_KAFKA_HOST       address the broker listens on            (127.0.0.1)
#   HUB_KAFKA_PORT       client (PLAINTEXT) port                   (9092)
#   HUB_KAFKA_CONTROLLER_PORT  KRaft controller port               (HUB_KAFKA_PORT + 1)
#   HUB_KAFKA_HEAP       JVM heap options                          (-Xms128m -Xmx512m)
#   HUB_KAFKA_START_TIMEOUT  seconds to wait until it answers      (90)
#
# Each port gets its own storage, so two brokers on different ports can run side by side.
set -euo pipefail

KAFKA_HOME_DIR=${HUB_KAFKA_HOME:-$HOME/.cache/pph-kafka}
VERSION=${HUB_KAFKA_VERSION:-4.2.1}
# The SLF4J 1.x binding for Log4j 2 (Kafka's own logging since 4.0), as Kafka's distribution ships.
LOG4J_VERSION=${HUB_KAFKA_LOG4J_VERSION:-2.25.4}
HOST=${HUB_KAFKA_HOST:-127.0.0.1}
PORT=${HUB_KAFKA_PORT:-9092}
CONTROLLER_PORT=${HUB_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}
HEAP=${HUB_KAFKA_HEAP:-"-Xms128m -Xmx512m"}
START_TIMEOUT=${HUB_KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=${HUB_KAFKA_STOP_TIMEOUT:-60}

JARS=$KAFKA_HOME_DIR/$VERSION
LIBS=$JARS/libs
INSTANCE=$KAFKA_HOME_DIR/broker-$PORT
DATA=$INSTANCE/data
CONFIG=$INSTANCE/server.properties
PIDFILE=$INSTANCE/kafka.pid
CONSOLE=$INSTANCE/console.log

die() { echo "kafka.sh: $*" >&2; exit 1; }
say() { echo "kafka.sh: $*" >&2; }

need() { command -v "$1" >/dev/null || die "$1 is not installed ($2)"; }

# Resolve the broker's jars once per version. `libs/.complete` is written last, so an
# interrupted resolution is redone rather than half used.
resolve() {
    [ -f "$LIBS/.complete" ] && return
    need mvn "Maven resolves Kafka's jars from Maven Central"
    mkdir -p "$JARS"
    cat >"$JARS/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by deploy/local/kafka.sh: the jars a single-node Kafka $VERSION (KRaft) runs on. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.pph</groupId>
  <artifactId>pph-kafka-broker</artifactId>
  <version>$VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <!-- The broker and controller (kafka.Kafka) and the storage tool (kafka.tools.StorageTool). -->
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$VERSION</version>
    </dependency>
    <!-- Only for TopicCommand, the readiness probe; its own dependencies (Kafka Connect, Jetty)
         are not needed for that. -->
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$VERSION</version>
      <exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
    say "resolving Apache Kafka $VERSION from Maven Central into $LIBS"
    local began=$SECONDS
    rm -rf "$LIBS.partial"
    mvn -B -q -f "$JARS/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$LIBS.partial" >"$JARS/mvn.log" 2>&1 \
        || { tail -n 30 "$JARS/mvn.log" >&2; die "mvn could not resolve Kafka $VERSION (log: $JARS/mvn.log)"; }
    [ -f "$LIBS.partial/kafka_2.13-$VERSION.jar" ] || die "mvn gave no kafka_2.13-$VERSION.jar"
    rm -rf "$LIBS"
    mv "$LIBS.partial" "$LIBS"
    touch "$LIBS/.complete"
    say "resolved $(find "$LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - began)) s"
}

# The java command line every Kafka class runs with (in JAVA_COMMAND).
java_command() {
    need java "Java 17 or later runs the broker"
    # shellcheck disable=SC2206 # HEAP holds several options
    JAVA_COMMAND=(java $HEAP -XX:+UseG1GC -Djava.awt.headless=true
        -Dlog4j2.configurationFile="$INSTANCE/log4j2.properties" -Dkafka.logs.dir="$INSTANCE/logs"
        -cp "$LIBS/*")
}

kafka_java() { java_command; "${JAVA_COMMAND[@]}" "$@"; }

configure() {
    mkdir -p "$INSTANCE/logs"
    cat >"$CONFIG" <<PROPERTIES
# Written by deploy/local/kafka.sh: one local node, broker and KRaft controller in one process.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA
num.partitions=1
# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# The hub creates its topics itself, with the partitions its settings ask for.
auto.create.topics.enable=false
# Consumer groups form at once instead of waiting 3 s for more members (tests, development).
group.initial.rebalance.delay.ms=0
log.retention.hours=168
PROPERTIES
    cat >"$INSTANCE/log4j2.properties" <<'LOG4J'
# Written by deploy/local/kafka.sh: INFO and above to server.log, warnings to the console log.
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
appender.console.filter.threshold.type = ThresholdFilter
appender.console.filter.threshold.level = warn
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
rootLogger.appenderRef.console.ref = console
LOG4J
}

# Format the KRaft storage once: a fresh cluster id, the metadata log of a one-voter quorum.
format() {
    [ -f "$DATA/meta.properties" ] && return
    local cluster_id
    cluster_id=$(kafka_java kafka.tools.StorageTool random-uuid) || die "StorageTool random-uuid failed"
    kafka_java kafka.tools.StorageTool format --config "$CONFIG" --cluster-id "$cluster_id" \
        --ignore-formatted >"$INSTANCE/format.log" 2>&1 \
        || { cat "$INSTANCE/format.log" >&2; die "StorageTool format failed"; }
    say "formatted KRaft storage in $DATA (cluster $cluster_id)"
}

# The pid of our broker if it runs (a stale pid file, or a reused pid, counts as not running).
running_pid() {
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid=$(cat "$PIDFILE")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "kafka.Kafka $CONFIG" || return 1
    echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

# Answers a metadata request (lists topics) through the client port, not only accepts TCP.
answers() {
    port_open || return 1
    kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$HOST:$PORT" --list \
        >/dev/null 2>&1
}

start() {
    local pid
    if pid=$(running_pid); then
        answers || die "Kafka (pid $pid) runs but does not answer on $HOST:$PORT (see $INSTANCE/logs/server.log)"
        echo "Kafka $VERSION is already up on $HOST:$PORT (pid $pid)"
        return
    fi
    port_open && die "$HOST:$PORT is already taken by another process"
    resolve
    configure
    format
    : >"$CONSOLE"
    # setsid: the broker outlives this script and the shell (or test) that started it.
    java_command
    setsid "${JAVA_COMMAND[@]}" kafka.Kafka "$CONFIG" </dev/null >>"$CONSOLE" 2>&1 &
    pid=$!
    echo "$pid" >"$PIDFILE"
    local deadline=$((SECONDS + START_TIMEOUT))
    until answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$CONSOLE" >&2
            die "Kafka exited while starting (see $CONSOLE and $INSTANCE/logs/server.log)"
        fi
        [ $SECONDS -lt $deadline ] || die "Kafka did not answer on $HOST:$PORT within $START_TIMEOUT s (pid $pid; see $INSTANCE/logs/server.log)"
        sleep 1
    done
    echo "Kafka $VERSION (KRaft) is up on $HOST:$PORT (pid $pid; storage $DATA)"
}

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
            die "Kafka (pid $pid) did not stop within $STOP_TIMEOUT s of SIGTERM; killed it"
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
            echo "Kafka $VERSION: up on $HOST:$PORT (pid $pid)"
        else
            echo "Kafka $VERSION: running (pid $pid) but not answering on $HOST:$PORT"
            return 1
        fi
    else
        echo "Kafka $VERSION: down ($HOST:$PORT)"
        return 3
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
