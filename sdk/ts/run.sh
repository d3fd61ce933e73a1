#!/usr/bin/env bash
# From a clean checkout: install the pinned npm packages, build and start flowbin on a free port with a fresh
# SQLite database, run the TypeScript SDK check against it, and stop the server. Exits with the check's status.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=../server.sh
source ../server.sh

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
