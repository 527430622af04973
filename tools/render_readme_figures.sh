#!/usr/bin/env bash
# Rebuilds the README's figures in docs/images/ from the saved sessions in docs/sessions/,
# headless (no window, no display server): `maskscope render` draws the real app with wgpu.
#
# Usage: tools/render_readme_figures.sh [extra render flags, e.g. --scale 2]
#
# Needs a wgpu adapter; without a GPU, Mesa's software Vulkan driver works:
#   sudo apt install mesa-vulkan-drivers libvulkan1
# (Set WGPU_BACKEND=vulkan to skip wgpu's GL probe, which prints a harmless
# "XDG_RUNTIME_DIR is invalid" in containers.)
#
# Each session names the model and its SHA-256, the batch, the masks, the view and its
# selections, the decoding steps, the theme and the window size, so the same command gives
# the same figures next month. To change a figure, open the session in the app
# (Open session...), adjust, Save session..., and run this again.
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
cd "$(dirname "$0")/.."

mkdir -p docs/images

render() {
  local session=$1 view=$2 out=$3
  shift 3
  cargo run --release --quiet -- render --session "docs/sessions/$session.json" --view "$view" --out "docs/images/$out.png" "$@"
}

render inputs    inputs    inputs                "$@"
render masks     masks     masks     --svg       "$@"
render attention attention attention --svg       "$@"
render decoder   decoder   decoder   --svg       "$@"
render finetune  finetune  finetune              "$@"
render inputs    window    window                "$@"
# Presenter mode (F5) on a 1280x720 projector, the cross-attention lesson's third step open.
render presenter window    presenter --size 1280x720 --presenter "$@"

ls -l docs/images
