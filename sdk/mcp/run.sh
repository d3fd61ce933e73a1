#!/usr/bin/env bash
# From a clean checkout: install the pinned npm packages, build and start flowbin on a free port with a fresh
# SQLite database, run the official MCP conformance suite against its /mcp (failing on any failure that
# expected-failures.txt does not list, and on any listed scenario that passes), then the TypeScript MCP client
# (src/client.ts), and stop the server.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=../server.sh
source ../server.sh

status=0

# The conformance suite: every scenario of the active suite, each judged by its checks.json.
scenarios=$(npx conformance list --server | sed -nE 's/^  - ([a-z0-9-]+)$/\1/p')
expected=$(grep -vE '^\s*(#|$)' expected-failures.txt | sort -u)
npx conformance server --url "$url/mcp" -o "$tmp/conformance" >"$tmp/conformance.log" 2>&1 || true
failed=()
ran=()
for dir in "$tmp"/conformance/server-*; do
  [[ -d $dir ]] || continue
  name=$(basename "$dir" | sed -E 's/^server-//; s/-[0-9]{4}-[0-9]{2}-[0-9]{2}T.*$//')
  ran+=("$name")
  if jq -e 'any(.[]; .status == "FAILURE")' "$dir/checks.json" >/dev/null; then
    failed+=("$name")
  fi
done
ran_sorted=$(printf '%s\n' "${ran[@]}" | sort -u)
failed_sorted=$(printf '%s\n' "${failed[@]+"${failed[@]}"}" | sed '/^$/d' | sort -u)
active=$(grep -E '^(✓|✗) ' "$tmp/conformance.log" | sed -E 's/^(✓|✗) ([a-z0-9-]+):.*/\2/' | sort -u)
if [[ -z $active || $active != "$ran_sorted" ]]; then
  echo "the conformance suite did not report every scenario it ran:" >&2
  cat "$tmp/conformance.log" >&2
  status=1
fi
unexpected=$(comm -23 <(echo "$failed_sorted") <(echo "$expected") | sed '/^$/d')
fixed=$(comm -13 <(echo "$failed_sorted") <(echo "$expected") | sed '/^$/d')
passed=$(comm -23 <(echo "$ran_sorted") <(echo "$failed_sorted") | sed '/^$/d' | tr '\n' ' ')
echo "ok  conformance passes: $passed"
echo "    expected failures (expected-failures.txt): $(echo "$expected" | wc -l) of $(echo "$scenarios" | wc -l) scenarios"
if [[ -n $unexpected ]]; then
  echo "conformance scenarios that fail and are not expected to:" >&2
  echo "$unexpected" >&2
  for name in $unexpected; do cat "$tmp"/conformance/server-"$name"-*/checks.json >&2; done
  status=1
fi
if [[ -n $fixed ]]; then
  echo "conformance scenarios listed in expected-failures.txt that pass now (remove them from it):" >&2
  echo "$fixed" >&2
  status=1
fi

# The TypeScript MCP client.
FLOWBIN_URL="$url" FLOWBIN_USERNAME=admin FLOWBIN_PASSWORD=flowbin npm run check || status=$?

if [[ $status -ne 0 ]]; then
  echo "--- flowbin log ---" >&2
  tail -50 "$tmp/stderr" >&2
fi
exit "$status"
