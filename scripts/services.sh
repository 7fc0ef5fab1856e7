# Sourced by test.sh and bench.sh: throwaway Postgres, Redis, a MongoDB-protocol server and
# RabbitMQ on free loopback ports, stopped by pid. Usage:
#   services_start DIR [durable]   exports TEST_POSTGRES_URL, TEST_REDIS_URL, TEST_MONGODB_URL,
#                                  TEST_RABBITMQ_PORT (guest/guest)
#   services_stop DIR
# "durable" keeps Postgres's fsync on (benchmarks); tests run with fsync=off.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

services_pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1; }

services_start() {
  local state=$1 fsync=off
  [ "${2:-}" = durable ] && fsync=on
  local pg_bin; pg_bin=$(services_pg_bin)
  chmod 755 "$state"
  chown postgres "$state"
  local pg_port redis_port mongo_port
  pg_port=$(free_port)
  runuser -u postgres -- "$pg_bin/initdb" -D "$state/pg" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null || return 1
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$state/pg" -l "$state/pg.log" -w start \
    -o "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$state/pg -c fsync=$fsync" >/dev/null \
    || { cat "$state/pg.log"; return 1; }
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$state/redis.pid" --dir "$state" --logfile "$state/redis.log" || return 1
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  mongo_port=$(free_port)
  mkdir -p "$state/mongo"
  target/test-venv/bin/python scripts/mongo_server.py "$state/mongo" "$mongo_port" "$state/mongo.pid" \
    >"$state/mongo.log" 2>&1 &
  for _ in $(seq 100); do [ -f "$state/mongo.pid" ] && break; sleep 0.1; done
  [ -f "$state/mongo.pid" ] || { echo "MongoDB-protocol server did not start:"; cat "$state/mongo.log"; return 1; }
  # RabbitMQ, for funboost queues on a broker that is not Redis; its own node name, ports and
  # files, so it never meets a RabbitMQ the machine runs.
  local rmq_port rmq=$state/rabbitmq
  rmq_port=$(free_port)
  mkdir -p "$rmq"
  echo "[]." >"$rmq/plugins"
  echo "loopback_users = none" >"$rmq/rabbitmq.conf"
  local node="taskdeck_test_$rmq_port@localhost"
  (export HOME="$rmq" RABBITMQ_NODENAME="$node" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
      RABBITMQ_NODE_PORT="$rmq_port" RABBITMQ_DIST_PORT="$(free_port)" \
      RABBITMQ_MNESIA_BASE="$rmq/mnesia" RABBITMQ_LOG_BASE="$rmq/log" \
      RABBITMQ_ENABLED_PLUGINS_FILE="$rmq/plugins" RABBITMQ_CONFIG_FILE="$rmq/rabbitmq" \
      RABBITMQ_PID_FILE="$rmq/pid"
    exec /usr/lib/rabbitmq/bin/rabbitmq-server >"$rmq/out.log" 2>&1) &
  echo "$node" >"$state/rabbitmq.node"
  for _ in $(seq 150); do
    HOME="$rmq" /usr/lib/rabbitmq/bin/rabbitmqctl -q -n "$node" await_startup >/dev/null 2>&1 && break
    sleep 0.2
  done
  export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
  export TEST_RABBITMQ_PORT="$rmq_port"
  export TEST_REDIS_URL="redis://127.0.0.1:$redis_port/0"
  export TEST_MONGODB_URL="mongodb://127.0.0.1:$mongo_port"
  echo "Postgres $TEST_POSTGRES_URL, Redis $TEST_REDIS_URL, MongoDB $TEST_MONGODB_URL, RabbitMQ 127.0.0.1:$TEST_RABBITMQ_PORT"
}

services_stop() {
  local state=$1
  [ -f "$state/redis.pid" ] && kill "$(cat "$state/redis.pid")" 2>/dev/null
  [ -f "$state/rabbitmq.node" ] && HOME="$state/rabbitmq" /usr/lib/rabbitmq/bin/rabbitmqctl -q \
    -n "$(cat "$state/rabbitmq.node")" stop >/dev/null 2>&1 && epmd -kill >/dev/null 2>&1
  [ -f "$state/mongo.pid" ] && kill "$(cat "$state/mongo.pid")" 2>/dev/null && sleep 1
  [ -f "$state/pg/postmaster.pid" ] && runuser -u postgres -- "$(services_pg_bin)/pg_ctl" -D "$state/pg" -m fast -w stop >/dev/null 2>&1
  rm -rf "$state"
}
