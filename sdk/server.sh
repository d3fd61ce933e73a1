# Sourced by sdk/*/run.sh from their own folder: installs the folder's pinned npm packages, builds flowbin and
# starts it on a free port with a fresh SQLite database (admin / flowbin). Sets root, tmp (removed on exit, with
# the server stopped), pid and url; the server's output is in $tmp/stdout and $tmp/stderr.
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
