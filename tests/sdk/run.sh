#!/usr/bin/env bash
# Box's official Python SDK against `boxlift emulator`: a client written for real Box must agree
# with our emulator. Creates a virtualenv with the pinned SDK, builds boxlift, starts the emulator
# on a free port, runs tests/sdk/box_sdk_check.py, stops the emulator. Exits non-zero on any
# mismatch. Env: BOXLIFT_BIN (use this binary, skip the build), BOXLIFT_SDK_VENV (venv dir),
# PYTHON (interpreter for the venv, default python3).
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # keep tests/sdk free of __pycache__

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

# Fixed credentials for this throwaway emulator, passed to both sides.
dev_token="sdk-dev-token"
client_id="sdk-client"
client_secret="sdk-secret"

# Cargo's target dir, wherever CARGO_TARGET_DIR or a cargo config puts it.
target_dir="$(cargo metadata --format-version 1 --no-deps --offline 2>/dev/null \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' \
  || true)"
target_dir="${target_dir:-${CARGO_TARGET_DIR:-$root/target}}"

venv="${BOXLIFT_SDK_VENV:-$target_dir/sdk-venv}"
echo "== sdk: virtualenv $venv"
if [[ ! -x "$venv/bin/python" ]]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
# Install only when requirements.txt changed since the last install.
want="$(sha1sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ "$(cat "$venv/.boxlift-requirements" 2>/dev/null || true)" != "$want" ]]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$here/requirements.txt"
  echo "$want" >"$venv/.boxlift-requirements"
fi
"$venv/bin/python" -c 'import box_sdk_gen, importlib.metadata as m; print("box-sdk-gen", m.version("box-sdk-gen"))'

if [[ -n "${BOXLIFT_BIN:-}" ]]; then
  bin="$BOXLIFT_BIN"
else
  echo "== sdk: build boxlift"
  cargo build --locked --bin boxlift
  bin="$target_dir/debug/boxlift"
fi
[[ -x "$bin" ]] || { echo "sdk: no boxlift binary at $bin" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/boxlift-sdk.XXXXXX")"
emu_pid=""
cleanup() {
  if [[ -n "$emu_pid" ]] && kill -0 "$emu_pid" 2>/dev/null; then
    kill "$emu_pid" 2>/dev/null || true
    wait "$emu_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== sdk: start emulator"
"$bin" emulator --listen 127.0.0.1:0 --port-file "$work/port" \
  --developer-token "$dev_token" --client-id "$client_id" --client-secret "$client_secret" \
  >"$work/emulator.log" 2>&1 &
emu_pid=$!

port=""
for _ in $(seq 1 300); do
  if [[ -s "$work/port" ]]; then
    # The port file holds the port, or host:port; take the digits after the last colon.
    port="$(tr -d '[:space:]' <"$work/port")"
    port="${port##*:}"
    [[ "$port" =~ ^[0-9]+$ ]] && break
    port=""
  fi
  if ! kill -0 "$emu_pid" 2>/dev/null; then
    echo "sdk: the emulator exited before listening:" >&2
    cat "$work/emulator.log" >&2
    exit 2
  fi
  sleep 0.1
done
if [[ -z "$port" ]]; then
  echo "sdk: the emulator wrote no port file within 30 s:" >&2
  cat "$work/emulator.log" >&2
  exit 2
fi
base="http://127.0.0.1:$port"
echo "emulator at $base (pid $emu_pid)"

echo "== sdk: box_sdk_check.py"
status=0
"$venv/bin/python" "$here/box_sdk_check.py" --base-url "$base" \
  --developer-token "$dev_token" --client-id "$client_id" --client-secret "$client_secret" \
  || status=$?
if [[ $status -ne 0 ]]; then
  echo "-- emulator log (last 50 lines)" >&2
  tail -n 50 "$work/emulator.log" >&2 || true
fi
exit "$status"
