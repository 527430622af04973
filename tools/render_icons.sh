#!/usr/bin/env bash
# Renders the icon's PNGs from its SVG source: assets/icon/maskscope.svg ->
# assets/icon/maskscope-N.png at the sizes desktops look for (hicolor theme) and the window uses.
# Needs rsvg-convert (Debian: librsvg2-bin). Re-run after editing the SVG and commit the PNGs.
set -euo pipefail
case "${1:-}" in
  "") ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument: $1 (this script takes none)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
command -v rsvg-convert >/dev/null || {
  echo "rsvg-convert not found: apt-get install librsvg2-bin" >&2
  exit 1
}
for size in 16 24 32 48 64 128 256 512; do
  rsvg-convert --width "$size" --height "$size" assets/icon/maskscope.svg \
    --output "assets/icon/maskscope-$size.png"
done
ls -l assets/icon/
