#!/usr/bin/env bash
# Rebuilds assets/fonts/NotoSansSC-maskscope.otf: Noto Sans CJK SC Regular (SIL OFL 1.1)
# cut down to the characters maskscope can show or a user is likely to type:
#   - every character of assets/i18n/zh/*.json and assets/lessons/lessons.json,
#   - the Chinese numerals and CJK / full-width punctuation,
#   - GB2312 level 1 (the 3,755 most common simplified characters, code points 0xB0A1-0xD7F9).
# The app installs it as a fallback after egui's own fonts, so Latin text keeps egui's look.
#
# Usage: tools/subset_cjk_font.sh [path/to/NotoSansCJK-Regular.ttc] [path/to/pyftsubset]
# Needs fonttools (pyftsubset) and python3. Re-run after adding Chinese text; the test
# `bundled_font_covers_every_chinese_string` in tests/app_i18n.rs says when it is needed.
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  -*) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
esac
[ $# -le 2 ] || { echo "at most two arguments (see --help)" >&2; exit 2; }

cd "$(dirname "$0")/.."
TTC="${1:-/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc}"
PYFTSUBSET="${2:-$(command -v pyftsubset || echo .venv/bin/pyftsubset)}"
PYTHON="$(dirname "$PYFTSUBSET")/python"
[ -x "$PYTHON" ] || PYTHON=python3
OUT=assets/fonts/NotoSansSC-maskscope.otf
CHARS="$(mktemp)"
trap 'rm -f "$CHARS"' EXIT

# The face index of "Noto Sans CJK SC" inside the collection (2 in Debian's fonts-noto-cjk).
INDEX="$("$PYTHON" - "$TTC" <<'EOF'
import sys
from fontTools.ttLib import TTCollection
for i, font in enumerate(TTCollection(sys.argv[1]).fonts):
    if font["name"].getDebugName(4) == "Noto Sans CJK SC":
        print(i)
        break
else:
    sys.exit("no 'Noto Sans CJK SC' face in " + sys.argv[1])
EOF
)"

"$PYTHON" - "$CHARS" assets/i18n/zh/*.json assets/lessons/lessons.json <<'EOF'
import sys

chars = set()
for path in sys.argv[2:]:
    with open(path, encoding="utf-8") as f:
        chars.update(f.read())
chars.update("零一二三四五六七八九十百千万亿〇两")
# CJK symbols and punctuation, full-width forms, and the quotes/dashes Chinese text uses.
chars.update(chr(c) for c in range(0x3000, 0x3040))
chars.update(chr(c) for c in range(0xFF01, 0xFF5F))
chars.update("“”‘’—…·《》〈〉「」『』【】、。，；：？！（）←→↑↓×÷−")
chars.update(chr(c) for c in range(0x20, 0x7F))  # ASCII too: cheap, and the font stands alone
# GB2312 level 1: rows 0xB0-0xD7, cells 0xA1-0xFE (row 0xD7 ends at 0xF9).
for hi in range(0xB0, 0xD8):
    for lo in range(0xA1, 0xFF):
        if hi == 0xD7 and lo > 0xF9:
            break
        chars.add(bytes([hi, lo]).decode("gb2312"))
# Printable characters only.
chars = sorted(c for c in chars if ord(c) >= 0x20)
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write("".join(chars))
print(f"{len(chars)} characters", file=sys.stderr)
EOF

mkdir -p assets/fonts
"$PYFTSUBSET" "$TTC" \
    --font-number="$INDEX" \
    --text-file="$CHARS" \
    --output-file="$OUT" \
    --layout-features='kern,palt' \
    --no-hinting \
    --name-IDs='*' \
    --name-legacy \
    --name-languages='*' \
    --drop-tables+=VORG,vhea,vmtx,BASE
ls -l "$OUT"
