#!/usr/bin/env bash
# From a clean checkout: install the pinned npm packages, build and start flowbin on a free port with a fresh
# SQLite database, run the TypeScript SDK check against it, and stop the server. Exits with the check's status.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
# A FLOWBIN_DATABASE_URL (or any other setting) from the caller must not reach the server under test.
unset "${!FLOWBIN_@}"
root=$(cd ../.. && pwd)
tmp=$(mktemp -d)
pid=
cleanup() {
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

npm ci --no-audit --no-fund
(cd "$root" && go build -o "$tmp/flowbin" ./cmd/flowbin)

: >"$tmp/stdout" # exists before the server opens it, for the polling below
FLOWBIN_ADDR=127.0.0.1:0 \
  FLOWBIN_DATA_DIR="$tmp" \
  FLOWBIN_ADMIN_PASSWORD=flowbin \
  FLOWBIN_BCRYPT_COST=4 \
  "$tmp/flowbin" >"$tmp/stdout" 2>"$tmp/stderr" &
pid=$!

url=
for _ in $(seq 300); do
  url=$(sed -nE 's/^flowbin listening on (http:\/\/[^ ]+).*/\1/p' "$tmp/stdout")
  [[ -n $url ]] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "flowbin exited before listening:" >&2
    cat "$tmp/stdout" "$tmp/stderr" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ -z $url ]]; then
  echo "flowbin did not start listening within 30 s:" >&2
  cat "$tmp/stdout" "$tmp/stderr" >&2
  exit 1
fi
echo "flowbin is listening on $url"

# The README's TypeScript program, as the README shows it (it logs in as admin with make run's password), and the
# output the README shows under it.
awk '/^```ts$/ {on=1; next} on && /^```$/ {exit} on' "$root/README.md" >src/readme.ts
awk '/^```ts$/ {ts=1} ts && /^```text output$/ {on=1; next} on && /^```$/ {exit} on' "$root/README.md" >"$tmp/readme.want"
if [[ ! -s src/readme.ts || ! -s $tmp/readme.want ]]; then
  echo "the README lost its TypeScript program or its output" >&2
  exit 1
fi

status=0
FLOWBIN_URL="$url" FLOWBIN_USERNAME=admin FLOWBIN_PASSWORD=flowbin npm run check || status=$?
if [[ $status -eq 0 ]]; then
  FLOWBIN_URL="$url" node dist/readme.js >"$tmp/readme.got" || status=$?
  if ! diff -u "$tmp/readme.want" "$tmp/readme.got"; then
    echo "the README's TypeScript program does not print what the README shows" >&2
    status=1
  else
    echo "ok  the README's TypeScript program prints what the README shows"
  fi
fi
if [[ $status -ne 0 ]]; then
  echo "--- flowbin log ---" >&2
  cat "$tmp/stderr" >&2
fi
exit "$status"
