#!/usr/bin/env bash
# Vendor the dashboard's charting library, uPlot, from the npm registry into static/vendor/uplot/.
# The files are committed: the dashboard loads nothing from a CDN and works offline, and a fresh
# machine needs neither npm nor network for it. To upgrade, change VERSION and INTEGRITY (from
# `npm view uplot@X dist.integrity`) and re-run; the tarball is checked against INTEGRITY.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGE=uplot
VERSION=1.6.32
INTEGRITY=sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==
DEST=static/vendor/uplot

command -v npm >/dev/null || { echo "vendor_static: npm is needed (apt-get install npm)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tarball=$(cd "$tmp" && npm pack --silent "$PACKAGE@$VERSION" 2>/dev/null | tail -n1)
actual="sha512-$(openssl dgst -sha512 -binary "$tmp/$tarball" | base64 -w0)"
if [ "$actual" != "$INTEGRITY" ]; then
  echo "vendor_static: $PACKAGE@$VERSION does not match the pinned integrity ($actual)" >&2
  exit 1
fi
tar -xzf "$tmp/$tarball" -C "$tmp"
mkdir -p "$DEST"
cp "$tmp/package/dist/uPlot.iife.min.js" "$tmp/package/dist/uPlot.min.css" "$tmp/package/LICENSE" "$DEST/"
echo "$PACKAGE@$VERSION $INTEGRITY" > "$DEST/VERSION"
echo "vendor_static: $PACKAGE@$VERSION -> $DEST/"
