#!/usr/bin/env bash
# The AWS emulator (moto in server mode) on a free loopback port, in the background.
#
#   infra/scripts/moto.sh start   # starts it unless running; prints `export AWS_…=…` lines:
#                                 #   eval "$(infra/scripts/moto.sh start)"
#   infra/scripts/moto.sh env     # prints the export lines of the running emulator
#   infra/scripts/moto.sh stop    # stops it (by its PID file) and removes its state
#
# State lives in $MOTO_STATE_DIR (default <repo>/.local/moto): moto.pid, moto.port, moto.log,
# and recording.jsonl: moto's request recorder writes there (MOTO_RECORDER_FILEPATH); it
# records from the start when MOTO_ENABLE_RECORDING=true (infra/scripts/test.sh does, for
# the IAM check), else once `POST /moto-api/recorder/start-recording` asks it to.
# Status messages go to stderr, so stdout can be eval'ed.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
state="${MOTO_STATE_DIR:-$root/.local/moto}"
pid_file="$state/moto.pid"
port_file="$state/moto.port"
log_file="$state/moto.log"
moto_bin="$root/.venv/bin/moto_server"
# moto_server with its recorder writing each entry whole (see that file).
launcher="$root/infra/scripts/moto_server.py"
python_bin="$root/.venv/bin/python"

say() { echo "moto.sh: $*" >&2; }

running_pid() {
  # The PID from the file, if that process is alive and is a moto_server.
  [ -f "$pid_file" ] || return 1
  local pid
  pid="$(cat "$pid_file")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q moto_server || return 1
  echo "$pid"
}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

print_env() {
  local port
  port="$(cat "$port_file")"
  echo "export AWS_ENDPOINT_URL=http://127.0.0.1:$port"
  echo "export AWS_ACCESS_KEY_ID=\${AWS_ACCESS_KEY_ID:-test}"
  echo "export AWS_SECRET_ACCESS_KEY=\${AWS_SECRET_ACCESS_KEY:-test}"
  echo "export AWS_REGION=\${AWS_REGION:-us-east-1}"
}

start() {
  if pid="$(running_pid)"; then
    say "already running (pid $pid, port $(cat "$port_file"))"
    print_env
    return 0
  fi
  [ -x "$moto_bin" ] || bash "$root/infra/scripts/venv.sh"
  mkdir -p "$state"
  rm -f "$pid_file" "$port_file"
  local port pid
  port="$("$python_bin" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  export MOTO_RECORDER_FILEPATH="${MOTO_RECORDER_FILEPATH:-$state/recording.jsonl}"
  # Own session: a Ctrl-C in the caller's terminal does not reach it; stop it with `stop`.
  setsid "$python_bin" "$launcher" -H 127.0.0.1 -p "$port" >"$log_file" 2>&1 < /dev/null &
  pid=$!
  echo "$pid" > "$pid_file"
  echo "$port" > "$port_file"
  for _ in $(seq 1 300); do
    if answers "$port"; then
      say "started (pid $pid, port $port, log $log_file)"
      print_env
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      say "moto_server exited; its log:"
      cat "$log_file" >&2
      rm -f "$pid_file" "$port_file"
      return 1
    fi
    sleep 0.1
  done
  say "moto_server did not answer on port $port within 30 s; stopping it"
  kill "$pid" 2>/dev/null || true
  rm -f "$pid_file" "$port_file"
  return 1
}

stop() {
  if pid="$(running_pid)"; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    say "stopped (pid $pid)"
  else
    say "not running"
  fi
  rm -f "$pid_file" "$port_file"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env)
    if running_pid > /dev/null; then print_env; else say "not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
