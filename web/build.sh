#!/usr/bin/env bash
# Builds the browser playground into web/dist (`make wasm`):
#   mailhop.wasm   the simulation (wasm/) compiled to WebAssembly, without
#                  debug information or file paths, its data segments
#                  merged (web/internal/wasmdata: ~4% less to download)
#   boot.json      what the page shows before the simulation has started:
#                  the default world as it starts, the built-in worlds and
#                  lessons, the explanations (web/internal/bootdata, which
#                  also gives the WebAssembly the built-in worlds as JSON)
#   wasm_exec.js   Go's loader for it, from this Go's GOROOT
#   the page       web/static: index.html, js/, css/, icons
#   .br and .gz    a brotli and a gzip copy of each of those files, which
#                  `mailhop play` sends to browsers that accept them
# Debian's brotli and gzip are used when present; otherwise a pure-Go
# compressor (web/internal/compress) is run with `go run`.
#
#   web/build.sh            everything
#   web/build.sh --static   only the page, keeping the WebAssembly built before
#   web/build.sh --gcflags  print the compiler's flags for the WebAssembly
#                           (make bench-wasm measures the chain built with them)
set -euo pipefail
cd "$(dirname "$0")/.."
# -l: no inlining. It costs a little speed and saves ~15% of the
# compressed download, most of what the browser waits for. Ed25519's
# arithmetic, the math/bits functions it calls (WebAssembly has no
# 64×64→128-bit multiply: bits.Mul64 is Go code there) and SHA-512 are
# inlined all the same, for a module no larger: a DKIM signature then
# takes 0.21 ms and its check 0.56 ms in Node, against 0.39 and 1.10 ms
# without math/bits (make bench-wasm); the world CA's certificate, which
# the first connection needs, gains likewise.
gcflags=(-gcflags=all=-l -gcflags=crypto/internal/fips140/edwards25519/...= -gcflags=crypto/internal/fips140/sha512= -gcflags=math/bits=)
if [ -n "${WASM_GCFLAGS:-}" ]; then gcflags=(-gcflags="$WASM_GCFLAGS"); fi
if [ "${1:-}" = "--gcflags" ]; then
  echo "${gcflags[@]}"
  exit 0
fi
keep_wasm=
GO=${GO:-go}
dist=web/dist
stage=$(mktemp -d web/.dist-XXXXXX)
gen=$(mktemp -d)
trap 'rm -rf "$stage" "$gen"' EXIT

if [ "${1:-}" = "--static" ]; then
  # Only the page: keep the WebAssembly already built (front-end work).
  if [ ! -f "$dist/mailhop.wasm" ]; then
    echo "web/build.sh --static: no $dist/mailhop.wasm yet; run make wasm first" >&2
    exit 1
  fi
  cp "$dist"/mailhop.wasm* "$stage/"
  # boot.json goes with the WebAssembly it was made with.
  cp "$dist"/boot.json "$stage/" 2>/dev/null || $GO run ./web/internal/bootdata -json "$stage/boot.json"
  keep_wasm=1
else
  echo "wasm: compiling the simulation to WebAssembly"
  # The built-in worlds as JSON, added to package main for this build
  # only (see playground.Prepare).
  $GO run ./web/internal/bootdata -json "$stage/boot.json" -go "$gen/prepared.go"
  printf '{"Replace": {"%s": "%s"}}\n' "$PWD/wasm/prepared_gen.go" "$gen/prepared.go" >"$gen/overlay.json"
  GOOS=js GOARCH=wasm $GO build -trimpath -ldflags='-s -w' "${gcflags[@]}" \
    -overlay "$gen/overlay.json" -o "$stage/mailhop.wasm" ./wasm
  $GO run ./web/internal/wasmdata "$stage/mailhop.wasm"
fi
cp "$($GO env GOROOT)/lib/wasm/wasm_exec.js" "$stage/"
cp -R web/static/. "$stage/"

echo "wasm: compressing (brotli, gzip)"
mapfile -t files < <(find "$stage" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' -o -name '*.html' -o -name '*.svg' -o -name '*.json' \) |
  if [ -n "${keep_wasm:-}" ]; then grep -v '/mailhop\.wasm$'; else cat; fi)
if command -v brotli >/dev/null && command -v gzip >/dev/null; then
  printf '%s\0' "${files[@]}" | xargs -0 -P 2 -n 1 brotli -q 11 -w 24 -f -k
  gzip -9 -n -k -f "${files[@]}"
else
  $GO run ./web/internal/compress "${files[@]}"
fi

find "$dist" -mindepth 1 ! -name .gitkeep -delete 2>/dev/null || true
mkdir -p "$dist"
cp -R "$stage/." "$dist/"
wasm=$dist/mailhop.wasm
printf 'wasm: %s: %d bytes, gzip %d, brotli %d\n' "$wasm" \
  "$(stat -c %s "$wasm")" "$(stat -c %s "$wasm.gz")" "$(stat -c %s "$wasm.br")"
