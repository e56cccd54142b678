#!/usr/bin/env bash
# Fetches the Apache Kafka broker jars from Maven Central (kafka/pom.xml), formats KRaft storage
# and starts a single combined broker+controller on 127.0.0.1 under Java 17. Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"

command -v java >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }
command -v mvn >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; apt-get install -y -qq maven >/dev/null; }

version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/kafka/pom.xml")
libs="$KAFKA_DIR/libs-$version"
if [ ! -f "$libs/.complete" ]; then
  log "fetching Kafka $version jars with Maven"
  mkdir -p "$libs"
  # stdout belongs to up.sh's printed environment: Maven's output goes to stderr.
  mvn -q -B -Dstyle.color=never -f "$HERE/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$libs" -DincludeScope=runtime >&2
  touch "$libs/.complete"
fi
CP="$libs/*"
JAVA=(java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true -cp "$CP")

# One data directory per version: a KRaft log formatted by one version is never reused by another.
data="$KAFKA_DIR/data-$version"
conf="$KAFKA_DIR/server.properties"
mkdir -p "$data"
cat > "$conf" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$data
num.partitions=6
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
cat > "$KAFKA_DIR/log4j2.properties" <<PROPS
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = $KAFKA_DIR/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
PROPS
LOGGING=(-Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" -Dkafka.logs.dir="$KAFKA_DIR")

if [ ! -f "$data/meta.properties" ]; then
  log "formatting KRaft storage"
  cluster_id=$("${JAVA[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
  "${JAVA[@]}" "${LOGGING[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$conf" >/dev/null
fi

pidfile="$KAFKA_DIR/kafka.pid"
# A broker of another version (an older checkout started it) is stopped first.
if [ -f "$pidfile" ] && [ "$(cat "$KAFKA_DIR/kafka.version" 2>/dev/null)" != "$version" ]; then
  log "stopping the running Kafka of another version"
  bash "$HERE/kafka-down.sh"
fi
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  log "Kafka already running (pid $(cat "$pidfile"))"
else
  log "starting Kafka $version (KRaft) on 127.0.0.1:$KAFKA_PORT"
  nohup "${JAVA[@]}" "${LOGGING[@]}" kafka.Kafka "$conf" > "$KAFKA_DIR/stdout.log" 2>&1 &
  echo $! > "$pidfile"
  echo "$version" > "$KAFKA_DIR/kafka.version"
fi

# Ready = the broker answers a metadata request on its client port.
for _ in $(seq 1 120); do
  if "${JAVA[@]}" "${LOGGING[@]}" org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" >/dev/null 2>&1; then
    log "Kafka ready: $KAFKA_BROKERS"
    exit 0
  fi
  kill -0 "$(cat "$pidfile")" 2>/dev/null || { log "Kafka exited; see $KAFKA_DIR/stdout.log"; tail -n 20 "$KAFKA_DIR/stdout.log" >&2; exit 1; }
  sleep 1
done
log "Kafka did not become ready in 120 s"; exit 1
