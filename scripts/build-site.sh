#!/usr/bin/env bash
# Builds the web assets into target/site: the wasm hydrate bundle, the stylesheet and public/.
# Usage: scripts/build-site.sh dev|release
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-dev}
site=target/site
pkg=$site/pkg

case "$profile" in
  dev) cargo_profile=dev; out_dir=debug ;;
  release) cargo_profile=wasm-release; out_dir=wasm-release ;;
  *) echo "usage: $0 dev|release" >&2; exit 2 ;;
esac

cargo build -p frontend --lib --target wasm32-unknown-unknown --profile "$cargo_profile"

rm -rf "$pkg.tmp"
mkdir -p "$pkg.tmp"
wasm-bindgen --target web --no-typescript --out-dir "$pkg.tmp" --out-name taskdeck \
  "${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/$out_dir/frontend.wasm"
if [ "$profile" = release ]; then
  # npm's binaryen: Debian's older wasm-opt emits modules that break hydration.
  node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$pkg.tmp/taskdeck_bg.wasm" -o "$pkg.tmp/taskdeck_bg.wasm"
fi
cp style/main.css "$pkg.tmp/taskdeck.css"
mkdir -p "$site"
cp -r public/. "$site/"
mkdir -p "$site/vendor"
cp node_modules/echarts/dist/echarts.min.js "$site/vendor/"
# Content-hashed names and brotli/gzip siblings (see scripts/seal-site.mjs).
node scripts/seal-site.mjs "$pkg.tmp" "$site/vendor" "$profile"
rm -rf "$pkg"
mv "$pkg.tmp" "$pkg"
wasm=$(ls "$pkg"/taskdeck.*.wasm)
echo "site built in $site ($(du -h "$wasm" | cut -f1) wasm, $(du -h "$wasm.br" | cut -f1) brotli, $profile)"
