#!/usr/bin/env bash
# Local Kafka (KRaft, one node) + Apicurio Registry, both run from Maven Central artifacts
# because our machines have no Docker engine and no network beyond the package registries.
#
#   bash docker/stack.sh up              start both (idempotent); stdout: the two addresses
#   bash docker/stack.sh down [--clean]  stop both; --clean also deletes the data folder
#   bash docker/stack.sh status          print the addresses if both answer, else exit 1
#   bash docker/stack.sh kafka-tool NAME [ARGS...]
#        Kafka's own CLI tools from the same jars, e.g.
#        kafka-tool kafka-consumer-groups --bootstrap-server 127.0.0.1:9092 --describe --all-groups
#
# stdout carries only the two KEY=VALUE lines (so `eval "$(bash docker/stack.sh up)"` works);
# progress and errors go to stderr. Settings (environment):
#   TREESYNTH_STACK_DIR            default <repo>/.treesynth/stack (cache/ jars, data/ state+logs)
#   TREESYNTH_KAFKA_VERSION        default 4.3.1
#   TREESYNTH_APICURIO_VERSION     default 3.3.3 (needs Java 21+; without one: 2.6.13.Final)
#   TREESYNTH_KAFKA_PORT / TREESYNTH_KAFKA_CONTROLLER_PORT       default 9092 / 9093
#   TREESYNTH_REGISTRY_PORT / TREESYNTH_REGISTRY_MANAGEMENT_PORT default 8081 / 8082
#   TREESYNTH_KAFKA_HEAP / TREESYNTH_REGISTRY_HEAP               default 512m / 384m
#   TREESYNTH_REGISTRY_STORAGE     file (default: H2 file in data/, survives down/up) | memory
#   TREESYNTH_STACK_WAIT_SECONDS   default 180 (per service)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOCKER_DIR=$ROOT/docker
STACK_DIR=${TREESYNTH_STACK_DIR:-$ROOT/.treesynth/stack}
CACHE_DIR=$STACK_DIR/cache
DATA_DIR=$STACK_DIR/data
LOG_DIR=$DATA_DIR/logs

KAFKA_VERSION=${TREESYNTH_KAFKA_VERSION:-4.3.1}
APICURIO_VERSION=${TREESYNTH_APICURIO_VERSION:-}
APICURIO_DEFAULT=3.3.3
# 3.0.x would run on Java 17 too, but its parent POM (io.apicurio:apicurio-registry:3.0.9)
# is missing from Maven Central, so Maven cannot resolve it.
APICURIO_JAVA17_FALLBACK=2.6.13.Final
KAFKA_PORT=${TREESYNTH_KAFKA_PORT:-9092}
CONTROLLER_PORT=${TREESYNTH_KAFKA_CONTROLLER_PORT:-9093}
REGISTRY_PORT=${TREESYNTH_REGISTRY_PORT:-8081}
REGISTRY_MGMT_PORT=${TREESYNTH_REGISTRY_MANAGEMENT_PORT:-8082}
KAFKA_HEAP=${TREESYNTH_KAFKA_HEAP:-512m}
REGISTRY_HEAP=${TREESYNTH_REGISTRY_HEAP:-384m}
REGISTRY_STORAGE=${TREESYNTH_REGISTRY_STORAGE:-file}
WAIT_SECONDS=${TREESYNTH_STACK_WAIT_SECONDS:-180}
STOP_SECONDS=30

KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
REGISTRY_BASE=http://127.0.0.1:$REGISTRY_PORT
SCHEMA_REGISTRY_URL=$REGISTRY_BASE/apis/ccompat/v7

log() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

print_addresses() {
  printf 'KAFKA_BROKERS=%s\n' "$KAFKA_BROKERS"
  printf 'SCHEMA_REGISTRY_URL=%s\n' "$SCHEMA_REGISTRY_URL"
}

# --- Java and Maven -------------------------------------------------------------------

java_major() { # path-to-java -> major version, or nothing
  # Not just line 1: JAVA_TOOL_OPTIONS makes the JVM print a "Picked up ..." line first.
  "$1" -version 2>&1 | sed -nE 's/.*version "(1\.)?([0-9]+).*/\2/p' | head -n1
}

# First Java of at least the given major: JAVA_HOME, then PATH, then /usr/lib/jvm (newest first).
find_java() {
  local min=$1 candidate major
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null 2>&1 && candidates+=("$(command -v java)")
  local jvm
  for jvm in $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV); do candidates+=("${jvm}bin/java"); done
  for candidate in "${candidates[@]}"; do
    [ -x "$candidate" ] || continue
    major=$(java_major "$candidate")
    if [ -n "$major" ] && [ "$major" -ge "$min" ]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

require_mvn() {
  command -v mvn >/dev/null 2>&1 ||
    die "Maven (mvn) not found; it resolves the Kafka and registry jars from Maven Central (Debian: apt-get install -y maven)"
}

# mvn with its output in a log; on failure, one line naming the artifact and the log.
run_mvn() {
  local what=$1 pom=$2
  shift 2
  require_mvn
  mkdir -p "$STACK_DIR"
  local mvn_log
  mvn_log=$STACK_DIR/maven-$(basename "$(dirname "$pom")").log
  log "resolving $what from Maven Central (log: $mvn_log)"
  if ! JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$KAFKA_JAVA")")") \
    mvn -B -ntp -f "$pom" -Dstack.buildDir="$CACHE_DIR/mvn-build" "$@" </dev/null >"$mvn_log" 2>&1; then
    local reason
    reason=$(grep -m1 -E '^\[ERROR\]' "$mvn_log" | cut -c1-300 || true)
    die "Maven could not resolve $what: ${reason:-see $mvn_log}"
  fi
}

# --- process bookkeeping --------------------------------------------------------------

# Each JVM carries -Dtreesynth.stack=<name>@<data dir>, so a pid file is trusted only when
# that pid is still our process (pids get reused after a reboot or a crash).
marker() { printf -- '-Dtreesynth.stack=%s@%s' "$1" "$DATA_DIR"; }

running_pid() {
  local name=$1 pid_file=$DATA_DIR/$1.pid pid
  [ -f "$pid_file" ] || return 1
  pid=$(cat "$pid_file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "$(marker "$name")" || return 1
  printf '%s\n' "$pid"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_ports_free() {
  local service=$1 port
  shift
  for port in "$@"; do
    if port_busy "$port"; then
      die "port 127.0.0.1:$port is busy (another process listens there), cannot start $service; stop it or set the TREESYNTH_*_PORT variables"
    fi
  done
}

# Start a detached JVM (own session, no stdin) and record its pid.
spawn() {
  local name=$1 workdir=$2
  shift 2
  # 9>&-: the JVM must not inherit the stack lock, or the next `down` would wait on it.
  (cd "$workdir" && exec setsid "$@" </dev/null >>"$LOG_DIR/$name.out" 2>&1 9>&-) &
  local pid=$!
  echo "$pid" >"$DATA_DIR/$name.pid"
  # setsid forks only when already a group leader; then $! is not the JVM. Look it up.
  sleep 0.5
  if ! running_pid "$name" >/dev/null; then
    local found
    found=$(pgrep -f -- "$(marker "$name")" | head -n1 || true)
    [ -n "$found" ] && echo "$found" >"$DATA_DIR/$name.pid"
  fi
}

wait_ready() {
  local name=$1 mode=$2 target=$3 pid
  pid=$(running_pid "$name") || {
    tail -n 20 "$LOG_DIR/$name.out" >&2 2>/dev/null || true
    die "$name exited at once; see $LOG_DIR/$name.out"
  }
  local rc=0
  node "$DOCKER_DIR/stack-wait.mjs" "$mode" "$target" "$pid" "$WAIT_SECONDS" || rc=$?
  if [ "$rc" -ne 0 ]; then
    tail -n 30 "$LOG_DIR/$name.out" >&2 2>/dev/null || true
    [ "$name" = kafka ] && tail -n 30 "$LOG_DIR/kafka.log" >&2 2>/dev/null || true
    if [ "$rc" -eq 2 ]; then die "$name exited during start; logs in $LOG_DIR"; fi
    die "$name did not answer within ${WAIT_SECONDS}s; logs in $LOG_DIR"
  fi
}

stop_service() {
  local name=$1 pid i
  if ! pid=$(running_pid "$name"); then
    rm -f "$DATA_DIR/$name.pid"
    return 0
  fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_SECONDS * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop within ${STOP_SECONDS}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$DATA_DIR/$name.pid"
}

# --- Kafka ----------------------------------------------------------------------------

KAFKA_HOME=$CACHE_DIR/kafka-$KAFKA_VERSION

ensure_kafka_jars() {
  [ -f "$KAFKA_HOME/.complete" ] && return 0
  rm -rf "$KAFKA_HOME"
  run_mvn "org.apache.kafka:kafka_2.13:$KAFKA_VERSION" "$DOCKER_DIR/kafka/pom.xml" \
    dependency:copy-dependencies -Dkafka.version="$KAFKA_VERSION" \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME/libs"
  touch "$KAFKA_HOME/.complete"
}

kafka_java() { # java [jvm args...] main-class args...
  "$KAFKA_JAVA" -Djava.awt.headless=true \
    -Dkafka.logs.dir="$LOG_DIR" -Dlog4j2.configurationFile="$DOCKER_DIR/kafka/log4j2.properties" \
    -cp "$KAFKA_HOME/libs/*" "$@"
}

write_server_properties() {
  # Template first, then what depends on this checkout; later keys win in Java properties.
  {
    cat "$DOCKER_DIR/kafka/server.properties"
    echo
    echo "# --- added by docker/stack.sh ---"
    echo "log.dirs=$DATA_DIR/kafka"
    echo "listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT"
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT"
    echo "controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT"
  } >"$DATA_DIR/server.properties"
}

start_kafka() {
  if running_pid kafka >/dev/null; then
    log "kafka already running (pid $(running_pid kafka))"
    return 0
  fi
  write_server_properties
  if [ ! -f "$DATA_DIR/kafka/meta.properties" ]; then
    local cluster_id
    cluster_id=$(kafka_java kafka.tools.StorageTool random-uuid 2>>"$LOG_DIR/kafka.out")
    log "formatting KRaft storage (cluster id $cluster_id)"
    kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$DATA_DIR/server.properties" \
      >>"$LOG_DIR/kafka.out" 2>&1 || die "formatting KRaft storage failed; see $LOG_DIR/kafka.out"
  fi
  log "starting kafka $KAFKA_VERSION on $KAFKA_BROKERS ($("$KAFKA_JAVA" -version 2>&1 | head -n1))"
  # C1 only (TieredStopAtLevel=1): this broker shares its cores with the pipeline it serves, and
  # C2 compiling its hot paths took CPU from the stages for the first minutes after every start
  # (Kafka vs local throughput on a fresh stack: 0.58-0.68 with C2, 0.72-0.77 with C1, 2 cores).
  spawn kafka "$DATA_DIR" "$KAFKA_JAVA" "$(marker kafka)" \
    -Xms256m -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:TieredStopAtLevel=1 \
    -Djava.awt.headless=true -Dkafka.logs.dir="$LOG_DIR" \
    -Dlog4j2.configurationFile="$DOCKER_DIR/kafka/log4j2.properties" \
    -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$DATA_DIR/server.properties"
}

# --- Apicurio Registry ----------------------------------------------------------------

choose_registry() {
  if [ -n "$APICURIO_VERSION" ]; then
    # 2.x and 3.0.x are Java 17 class files; later 3.x are Java 21.
    local need=21
    [[ $APICURIO_VERSION == 2.* || $APICURIO_VERSION == 3.0.* ]] && need=17
    REGISTRY_JAVA=$(find_java "$need") || die "Apicurio Registry $APICURIO_VERSION needs Java $need+; none found (JAVA_HOME, PATH, /usr/lib/jvm)"
  elif REGISTRY_JAVA=$(find_java 21); then
    APICURIO_VERSION=$APICURIO_DEFAULT
  else
    APICURIO_VERSION=$APICURIO_JAVA17_FALLBACK
    REGISTRY_JAVA=$KAFKA_JAVA
    log "no Java 21+ found: using Apicurio Registry $APICURIO_VERSION, which runs on Java 17"
  fi
  REGISTRY_HOME=$CACHE_DIR/apicurio-$APICURIO_VERSION
}

ensure_registry_dist() {
  [ -f "$REGISTRY_HOME/.complete" ] && return 0
  rm -rf "$REGISTRY_HOME"
  run_mvn "io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" "$DOCKER_DIR/registry/pom.xml" \
    dependency:unpack@registry -Dapicurio.version="$APICURIO_VERSION" \
    -Dregistry.outputDirectory="$REGISTRY_HOME"
  touch "$REGISTRY_HOME/.complete"
}

registry_jar() { # 3.x ships quarkus-run.jar, 2.x a *-runner.jar
  if [ -f "$REGISTRY_HOME/quarkus-run.jar" ]; then
    printf '%s\n' "$REGISTRY_HOME/quarkus-run.jar"
  else
    ls "$REGISTRY_HOME"/*-runner.jar 2>/dev/null | head -n1
  fi
}

start_registry() {
  if running_pid registry >/dev/null; then
    log "registry already running (pid $(running_pid registry))"
    return 0
  fi
  local jar
  jar=$(registry_jar)
  [ -n "$jar" ] || die "no runnable jar in $REGISTRY_HOME; delete that folder and run up again"
  # Storage: an H2 database file in the data folder, so schema ids survive `down`/`up` as
  # long as the Kafka records that carry them do (with Apicurio's default in-memory H2, a
  # restarted registry no longer knows the ids in existing topics). --clean drops both.
  local storage=()
  if [ "$REGISTRY_STORAGE" = file ] && [[ $APICURIO_VERSION != 2.* ]]; then
    mkdir -p "$DATA_DIR/registry"
    storage=(-Dapicurio.datasource.url="jdbc:h2:file:$DATA_DIR/registry/registry")
  elif [ "$REGISTRY_STORAGE" = file ]; then
    log "Apicurio $APICURIO_VERSION: in-memory storage only; schemas are lost when it stops"
  fi
  log "starting Apicurio Registry $APICURIO_VERSION on $REGISTRY_BASE ($("$REGISTRY_JAVA" -version 2>&1 | head -n1))"
  mkdir -p "$DATA_DIR/registry-tmp"
  # Deletion is enabled because this is a dev/test stack; a small JDBC pool for 2 cores.
  spawn registry "$DATA_DIR" "$REGISTRY_JAVA" "$(marker registry)" \
    -Xms64m -Xmx"$REGISTRY_HEAP" -Djava.io.tmpdir="$DATA_DIR/registry-tmp" \
    ${storage[@]+"${storage[@]}"} \
    -Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2 \
    -Dapicurio.datasource.jdbc.max-size=20 \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$REGISTRY_MGMT_PORT" \
    -Dapicurio.storage.snapshot.location="$DATA_DIR/registry-tmp" \
    -Dapicurio.rest.deletion.group.enabled=true \
    -Dapicurio.rest.deletion.artifact.enabled=true \
    -Dapicurio.rest.deletion.artifact-version.enabled=true \
    -jar "$jar"
}

# --- commands -------------------------------------------------------------------------

cmd_up() {
  case $REGISTRY_STORAGE in file | memory) ;; *) die "TREESYNTH_REGISTRY_STORAGE must be file or memory, not '$REGISTRY_STORAGE'" ;; esac
  KAFKA_JAVA=$(find_java 17) || die "Java 17+ not found (JAVA_HOME, PATH, /usr/lib/jvm); Kafka 4 needs it (Debian: apt-get install -y openjdk-17-jre-headless)"
  command -v node >/dev/null 2>&1 || die "node not found; it runs the readiness probe"
  [ -d "$ROOT/node_modules/kafkajs" ] || die "node_modules/kafkajs missing; run npm ci first (the readiness probe uses it)"
  command -v setsid >/dev/null 2>&1 && command -v flock >/dev/null 2>&1 || die "setsid or flock not found (Debian: apt-get install -y util-linux)"
  mkdir -p "$CACHE_DIR" "$LOG_DIR"
  # One `up`/`down` at a time per stack folder (parallel test workers may all call up).
  exec 9>"$STACK_DIR/.lock"
  flock -w 900 9 || die "another stack command holds $STACK_DIR/.lock"

  # Ports and downloads first, so a failure there does not leave half a stack running.
  if ! running_pid kafka >/dev/null; then
    check_ports_free kafka "$KAFKA_PORT" "$CONTROLLER_PORT"
    ensure_kafka_jars
  fi
  if ! running_pid registry >/dev/null; then
    check_ports_free registry "$REGISTRY_PORT" "$REGISTRY_MGMT_PORT"
    choose_registry
    ensure_registry_dist
  fi

  local started=$SECONDS
  start_kafka
  start_registry
  wait_ready kafka kafka "$KAFKA_BROKERS"
  wait_ready registry http "$SCHEMA_REGISTRY_URL/subjects"
  log "ready in $((SECONDS - started))s; logs in $LOG_DIR"
  print_addresses
}

cmd_down() {
  local clean=false arg
  for arg in "$@"; do
    case $arg in
      --clean) clean=true ;;
      *) die "unknown option for down: $arg" ;;
    esac
  done
  if [ -d "$STACK_DIR" ]; then
    exec 9>"$STACK_DIR/.lock"
    flock -w 120 9 || die "another stack command holds $STACK_DIR/.lock"
  fi
  stop_service registry
  stop_service kafka
  if $clean; then
    rm -rf "$DATA_DIR"
    log "removed $DATA_DIR (jar cache kept in $CACHE_DIR)"
  fi
}

cmd_status() {
  local ok=true
  running_pid kafka >/dev/null && node "$DOCKER_DIR/stack-wait.mjs" kafka "$KAFKA_BROKERS" - 5 || ok=false
  running_pid registry >/dev/null && node "$DOCKER_DIR/stack-wait.mjs" http "$SCHEMA_REGISTRY_URL/subjects" - 5 || ok=false
  $ok || { log "not running"; exit 1; }
  print_addresses
}

# Kafka's own scripts, by their usual names, run from the cached jars.
cmd_kafka_tool() {
  [ $# -ge 1 ] || die "usage: kafka-tool NAME [ARGS...] (e.g. kafka-consumer-groups, kafka-topics)"
  local name=$1 class
  shift
  case $name in
    kafka-consumer-groups) class=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
    kafka-topics) class=org.apache.kafka.tools.TopicCommand ;;
    kafka-console-consumer) class=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
    kafka-console-producer) class=org.apache.kafka.tools.ConsoleProducer ;;
    kafka-transactions) class=org.apache.kafka.tools.TransactionsCommand ;;
    kafka-get-offsets) class=org.apache.kafka.tools.GetOffsetShell ;;
    kafka-broker-api-versions) class=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
    kafka-configs) class=kafka.admin.ConfigCommand ;;
    kafka-run-class) class=$1; shift ;;
    *) die "unknown tool $name (known: kafka-consumer-groups kafka-topics kafka-console-consumer kafka-console-producer kafka-transactions kafka-get-offsets kafka-broker-api-versions kafka-configs kafka-run-class CLASS)" ;;
  esac
  KAFKA_JAVA=$(find_java 17) || die "Java 17+ not found"
  mkdir -p "$LOG_DIR"
  ensure_kafka_jars
  # Tools log warnings to stderr only; the broker's file config is not theirs.
  exec "$KAFKA_JAVA" -Xmx256m -Djava.awt.headless=true -Dlog4j2.level=WARN \
    -cp "$KAFKA_HOME/libs/*" "$class" "$@"
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  status) shift; cmd_status "$@" ;;
  kafka-tool) shift; cmd_kafka_tool "$@" ;;
  *) die "usage: bash docker/stack.sh up | down [--clean] | status | kafka-tool NAME [ARGS...]" ;;
esac
