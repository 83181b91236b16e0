# Starts and stops a throwaway 6-node Redis Cluster on loopback (sourced by .ci/run; usable by hand).
#   source tools/ci/redis-cluster.sh; redis_cluster_start; ...; redis_cluster_stop
# Ports: REDIS_CLUSTER_BASE_PORT (default 7101) .. +5; cluster bus ports are +10000.

redis_cluster_start() {
  local base="${REDIS_CLUSTER_BASE_PORT:-7101}" port i nodes=()
  REDIS_CLUSTER_DIR="$(mktemp -d -t carchain-redis-cluster.XXXXXX)"
  export REDIS_CLUSTER_DIR
  for i in 0 1 2 3 4 5; do
    port=$((base + i))
    if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then
      echo "port $port is already serving Redis; set REDIS_CLUSTER_BASE_PORT" >&2
      return 1
    fi
    mkdir -p "$REDIS_CLUSTER_DIR/$port"
    redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 3000 \
      --appendonly yes --appendfsync everysec --save "" \
      --dir "$REDIS_CLUSTER_DIR/$port" --pidfile "$REDIS_CLUSTER_DIR/$port/redis.pid" \
      --logfile "$REDIS_CLUSTER_DIR/$port/redis.log" --daemonize yes
    nodes+=("127.0.0.1:$port")
  done
  for i in 0 1 2 3 4 5; do
    port=$((base + i))
    for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$REDIS_CLUSTER_DIR/create.log" 2>&1 || {
    cat "$REDIS_CLUSTER_DIR/create.log" >&2; return 1; }
  for _ in $(seq 1 200); do
    if [ "$(redis-cli -p "$base" cluster info 2>/dev/null | tr -d '\r' | grep -c '^cluster_state:ok')" = 1 ] &&
       [ "$(redis-cli -p "$base" cluster nodes 2>/dev/null | grep -c 'slave')" = 3 ]; then
      REDIS_CLUSTER_NODES="$(IFS=,; echo "${nodes[*]}")"
      export REDIS_CLUSTER_NODES
      echo "redis cluster up: $REDIS_CLUSTER_NODES ($REDIS_CLUSTER_DIR)"
      return 0
    fi
    sleep 0.1
  done
  echo "redis cluster did not reach cluster_state:ok" >&2
  return 1
}

redis_cluster_stop() {
  local pidfile pid
  [ -n "${REDIS_CLUSTER_DIR:-}" ] && [ -d "$REDIS_CLUSTER_DIR" ] || return 0
  for pidfile in "$REDIS_CLUSTER_DIR"/*/redis.pid; do
    [ -f "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
  done
  for pidfile in "$REDIS_CLUSTER_DIR"/*/redis.pid; do
    [ -f "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$REDIS_CLUSTER_DIR"
}
