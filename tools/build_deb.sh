#!/usr/bin/env bash
# Builds maskscope's .deb from the release binary, installs it on this machine and checks the
# installed app as a user meets it: the files, `--version`, `maskscope render` headless, and
# the window under a virtual X display. It also lists the libraries the binary links (ldd)
# and the ones it opens at run time (dlopen, seen with LD_DEBUG), maps both to Debian packages
# and fails if one of those packages is missing from the .deb's Depends.
#
# usage: tools/build_deb.sh [--no-build] [--remove]
#   --no-build  use target/release/maskscope as it is (otherwise `cargo build --release`)
#   --remove    uninstall the package again at the end
# Needs root or sudo (apt), cargo-deb (`cargo install --locked cargo-deb`); installs xvfb, xdotool,
# x11-utils, imagemagick and desktop-file-utils from Debian when missing. Not run by CI: the
# release build alone takes about 10 minutes on a 2-core machine.
# Output (screenshot, rendered figure, logs) goes to target/deb-check/.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
remove=0
for arg in "$@"; do
  case $arg in
    --no-build) build=0 ;;
    --remove) remove=1 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
out=target/deb-check
rm -rf "$out" && mkdir -p "$out"

need=()
command -v cargo-deb >/dev/null || fail "cargo-deb not found: cargo install --locked cargo-deb"
command -v Xvfb >/dev/null || need+=(xvfb)
command -v xdotool >/dev/null || need+=(xdotool)
command -v xprop >/dev/null || need+=(x11-utils)
[ -x /usr/bin/import ] || need+=(imagemagick)
command -v desktop-file-validate >/dev/null || need+=(desktop-file-utils)
if [ ${#need[@]} -gt 0 ]; then
  step "installing ${need[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ $build = 1 ]; then
  step "release build"
  cargo build --release --locked
fi
binary=target/release/maskscope
[ -x $binary ] || fail "$binary not built"

# Prints "library -> package" for each library path on stdin.
to_packages() {
  while read -r path; do
    [ -n "$path" ] || continue
    real=$(readlink -f "$path")
    package=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$real" 2>/dev/null || echo "?: ")
    echo "$path -> ${package%%:*}"
  done
}

step "libraries the binary links (ldd)"
ldd $binary | tee "$out/ldd.txt"
awk '/=> \//{print $3} /^\t\/lib/{print $1}' "$out/ldd.txt" | to_packages | tee "$out/linked.txt"

step ".deb"
cargo deb --no-build --locked
deb=$(ls -t target/debian/maskscope_*.deb | head -1)
dpkg-deb --field "$deb" Package Version Architecture Depends Recommends Section
dpkg-deb --contents "$deb" | awk '{print $6}' | tee "$out/contents.txt"
echo "$(du -h "$deb" | cut -f1) $deb"

step "install"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall "./$deb" >/dev/null
dpkg -s maskscope | grep -E '^(Status|Version|Depends|Recommends):'
installed=$(command -v maskscope)
[ "$installed" = /usr/bin/maskscope ] || fail "maskscope on the PATH is $installed"

step "installed files"
for file in /usr/share/applications/maskscope.desktop \
  /usr/share/icons/hicolor/scalable/apps/maskscope.svg \
  /usr/share/doc/maskscope/copyright /usr/share/doc/maskscope/LICENSE-MIT \
  /usr/share/doc/maskscope/LICENSE-APACHE /usr/share/doc/maskscope/OFL-NotoSansSC.txt; do
  [ -f $file ] || fail "$file missing"
done
for size in 16 24 32 48 64 128 256 512; do
  file=/usr/share/icons/hicolor/${size}x${size}/apps/maskscope.png
  [ "$(identify -format '%wx%h' $file)" = "${size}x${size}" ] || fail "$file is not ${size}x${size}"
done
desktop-file-validate /usr/share/applications/maskscope.desktop
echo "desktop entry, icons (8 sizes + SVG) and licences are in place"

step "maskscope --version"
version=$(maskscope --version)
echo "$version"
if head=$(git rev-parse HEAD 2>/dev/null); then
  [[ $version == *"commit ${head:0:12}"* ]] || echo "note: built before the last commit ($head)"
fi

# Runs COMMAND... with the dynamic loader reporting what it opens, keeping only the lines
# about libraries the maskscope binary itself opened at run time.
dlopen_log() {
  local log=$1
  shift
  LD_DEBUG=files LD_DEBUG_OUTPUT="$out/ld" "$@"
  cat "$out"/ld.* | grep -E 'dynamically loaded by (/usr/bin/)?maskscope \[0\]' | sort -u >>"$log" || true
  rm -f "$out"/ld.*
}

step "maskscope render, headless"
dlopen_log "$out/dlopen.txt" maskscope render --session docs/sessions/masks.json --view masks \
  --out "$out/render-masks.png"
[ "$(head -c 8 "$out/render-masks.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] ||
  fail "render wrote no PNG"
echo "rendered $out/render-masks.png ($(identify -format '%wx%h' "$out/render-masks.png"))"

step "the window, under a virtual display"
display=:$((150 + RANDOM % 100))
Xvfb $display -screen 0 1366x768x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
sleep 1
DISPLAY=$display LD_DEBUG=files LD_DEBUG_OUTPUT="$out/ld" maskscope >"$out/window.log" 2>&1 &
app=$!
sleep 10
kill -0 $app 2>/dev/null || { tail "$out/window.log"; fail "the window exited"; }
window=$(DISPLAY=$display xdotool search --onlyvisible --pid $app | head -1)
[ -n "$window" ] || fail "no visible window"
DISPLAY=$display xprop -id "$window" WM_NAME WM_CLASS | tee "$out/wm.txt"
# A dock matches the window to the desktop entry through StartupWMClass=maskscope.
grep -q 'WM_CLASS.*"maskscope"' "$out/wm.txt" || fail "WM_CLASS is not maskscope"
# The icon property starts with its width and height.
DISPLAY=$display xprop -id "$window" -notype 32c _NET_WM_ICON | cut -c1-32 | tee -a "$out/wm.txt"
grep -q '_NET_WM_ICON = 256, 256,' "$out/wm.txt" || fail "the window has no 256 px icon"
DISPLAY=$display import -window root "$out/window.png"
kill $app && wait $app 2>/dev/null || true
cat "$out"/ld.* | grep -E 'dynamically loaded by (/usr/bin/)?maskscope \[0\]' | sort -u >>"$out/dlopen.txt" || true
rm -f "$out"/ld.*
echo "window shown; screenshot $out/window.png"

step "libraries opened at run time (dlopen) by the binary"
sed -E 's/.*file=([^ ]+) .*/\1/' "$out/dlopen.txt" | sort -u | while read -r soname; do
  ldconfig -p | awk -v lib="$soname" '$1 == lib && /x86-64/ {print $NF; exit}'
done | to_packages | tee "$out/dlopened.txt"

step "every package found above is a dependency of the .deb"
declared=$(dpkg-deb --field "$deb" Depends Recommends | tr ',|' '\n\n' |
  sed -E 's/^[A-Za-z]+: //; s/\(.*\)//; s/ //g' | grep -v '^$' | sort -u)
missing=0
for package in $(cut -d'>' -f2 "$out/linked.txt" "$out/dlopened.txt" | tr -d ' ' | sort -u); do
  if grep -qx "$package" <<<"$declared"; then
    echo "ok       $package"
  else
    echo "MISSING  $package"
    missing=1
  fi
done
[ $missing = 0 ] || fail "add the packages marked MISSING to [package.metadata.deb] depends"

if [ $remove = 1 ]; then
  step "remove"
  as_root apt-get remove -y -qq maskscope >/dev/null
  echo "removed"
fi
step "all checks passed: $deb"
