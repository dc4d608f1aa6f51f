#!/usr/bin/env bash
# `make package`: every function of template.yaml built for Lambda (arm64, provided.al2023)
# by `sam build` with its rust-cargolambda build method (cargo-lambda cross-links with Zig;
# no Docker). Installs its tools itself, pinned, into .venv-package from
# infra/package-requirements.txt (aws-sam-cli, cargo-lambda, ziglang), and the Rust target
# aarch64-unknown-linux-gnu if missing. Prints the build time and every artifact's size, and
# checks that each bootstrap is an aarch64 ELF executable.
#
# Output: .aws-sam/build/<Function>/bootstrap and .aws-sam/build/template.yaml, which
# `sam deploy` uploads. cargo-lambda's own target dir is $CARGO_TARGET_DIR (default
# target/) under lambda/ and aarch64-unknown-linux-gnu/.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

venv="$root/.venv-package"
req="$root/infra/package-requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> installing $(grep -v '^#' "$req" | xargs) into .venv-package"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi
target=aarch64-unknown-linux-gnu
if ! rustup target list --installed | grep -qx "$target"; then
  rustup target add "$target"
fi

# cargo-lambda, sam and the venv's python3 (cargo-zigbuild runs Zig as `python3 -m ziglang`).
export PATH="$venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0
echo "==> $(sam --version); $(cargo-lambda lambda --version); zig $(python3 -m ziglang version); $(rustc --version)"

started=$(date +%s)
# samconfig.toml [default.build.parameters]: beta_features (rust-cargolambda), cached, parallel.
sam build --template-file template.yaml "$@"
elapsed=$(( $(date +%s) - started ))

echo
echo "==> sam build took ${elapsed} s on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
printf '| function | bootstrap | zipped (as deployed) | file |\n|---|---|---|---|\n'
status=0
total=0
for bootstrap in .aws-sam/build/*/bootstrap; do
  dir="$(dirname "$bootstrap")"
  bytes=$(stat -c %s "$bootstrap")
  zipped=$(python3 -c 'import io, sys, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.write(sys.argv[1], "bootstrap")
print(len(buf.getvalue()))' "$bootstrap")
  total=$((total + bytes))
  kind="$(file -b "$bootstrap")"
  case "$kind" in
    *"ELF 64-bit LSB"*"ARM aarch64"*) ;;
    *) echo "package: $bootstrap is not an aarch64 ELF: $kind" >&2; status=1 ;;
  esac
  printf '| %s | %s B (%.1f MiB) | %s B (%.1f MiB) | %s |\n' "$(basename "$dir")" "$bytes" \
    "$(echo "$bytes / 1048576" | bc -l)" "$zipped" "$(echo "$zipped / 1048576" | bc -l)" \
    "$(echo "$kind" | cut -d, -f1-2)"
done
echo "total bootstrap bytes: $total"
exit $status
