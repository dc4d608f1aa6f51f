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
# samconfig.toml [default.build.parameters]: beta_features (rust-cargolambda), parallel, no SAM cache.
sam build --template-file template.yaml "$@"
elapsed=$(( $(date +%s) - started ))

echo
echo "==> sam build took ${elapsed} s on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
# Sizes, the deployed zip's size and the ELF header (64-bit, little-endian, e_machine 183 =
# AArch64, e_type 2/3 = executable) read by Python, so no `file` or `bc` is needed.
status=0
python3 - .aws-sam/build/*/bootstrap <<'PY' || status=1
import io, os, struct, sys, zipfile

print("| function | bootstrap | zipped (as deployed) | ELF |")
print("|---|---|---|---|")
total = 0
bad = 0
for path in sys.argv[1:]:
    name = os.path.basename(os.path.dirname(path))
    size = os.path.getsize(path)
    total += size
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(path, "bootstrap")
    zipped = len(buf.getvalue())
    with open(path, "rb") as f:
        head = f.read(20)
    ok = (
        len(head) == 20
        and head[:4] == b"\x7fELF"
        and head[4] == 2  # ELFCLASS64
        and head[5] == 1  # little-endian
        and struct.unpack_from("<H", head, 16)[0] in (2, 3)
        and struct.unpack_from("<H", head, 18)[0] == 183  # EM_AARCH64
    )
    kind = "64-bit LSB aarch64 executable" if ok else "NOT an aarch64 executable"
    if not ok:
        bad += 1
        print(f"package: {path} is not an aarch64 ELF executable", file=sys.stderr)
    print(f"| {name} | {size} B ({size / 1048576:.1f} MiB) | {zipped} B ({zipped / 1048576:.1f} MiB) | {kind} |")
print(f"total bootstrap bytes: {total} ({total / 1048576:.1f} MiB) in {len(sys.argv) - 1} functions")
sys.exit(1 if bad or len(sys.argv) == 1 else 0)
PY
exit $status
