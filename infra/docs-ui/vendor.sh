#!/usr/bin/env bash
# The reference UI that `GET /docs` serves: swagger-ui-dist, pinned by package.json and
# package-lock.json here, its files copied into vendor/ and embedded by shared/src/api/docs
# (so `cargo build` needs no npm).
#   vendor.sh check    `npm ci` of the lock yields files byte-identical to vendor/ (make test)
#   vendor.sh refresh  `npm ci`, then copies the files into vendor/ (after changing the pin:
#                      `npm install --package-lock-only --ignore-scripts swagger-ui-dist@X.Y.Z`,
#                      then UI_VERSION in shared/src/api/docs/mod.rs)
# Install scripts never run (--ignore-scripts): the package's one dependency only reports
# installs over the network.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
files=(swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE)
mode="${1:-check}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$work/"
(cd "$work" && SCARF_ANALYTICS=false npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
dist="$work/node_modules/swagger-ui-dist"
version="$(node -p 'require(process.argv[1]).version' "$dist/package.json")"

case "$mode" in
  check)
    status=0
    for f in "${files[@]}"; do
      if ! cmp -s "$dist/$f" "$here/vendor/$f"; then
        echo "infra/docs-ui/vendor/$f differs from swagger-ui-dist@$version (run infra/docs-ui/vendor.sh refresh)" >&2
        status=1
      fi
    done
    extra="$(cd "$here/vendor" && ls -A | grep -vxF -f <(printf '%s\n' "${files[@]}") || true)"
    if [ -n "$extra" ]; then
      echo "infra/docs-ui/vendor/ holds files npm does not yield: $extra" >&2
      status=1
    fi
    [ "$status" -eq 0 ] && echo "docs UI: vendor/ is swagger-ui-dist@$version byte for byte (${#files[@]} files)"
    exit "$status"
    ;;
  refresh)
    rm -rf "$here/vendor"
    mkdir -p "$here/vendor"
    for f in "${files[@]}"; do cp "$dist/$f" "$here/vendor/$f"; done
    echo "docs UI: vendor/ refreshed from swagger-ui-dist@$version"
    ;;
  *)
    echo "usage: $0 check|refresh" >&2
    exit 2
    ;;
esac
