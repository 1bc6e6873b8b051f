#!/usr/bin/env bash
# Screenshot a page (the running RAGdesk app, say) in headless Chromium.
#
# Usage: scripts/screenshot.sh URL OUT.png [WIDTHxHEIGHT] [screenshot.py options, e.g. --step ...]
#
# With the project's virtualenv present it runs scripts/screenshot.py, which waits in real time
# until the Streamlit run has finished (a bare `chromium --screenshot` often catches a blank page
# on a busy machine). Without it, it falls back to the plain headless call below.
set -euo pipefail
usage="usage: $0 URL OUT.png [WIDTHxHEIGHT]"
url=${1:?$usage}
out=${2:?$usage}
size=${3:-1400x1000}
shift $(( $# < 3 ? $# : 3 ))
here=$(cd "$(dirname "$0")" && pwd)
py="$here/../.venv/bin/python"
if [ -x "$py" ] && "$py" -c "import websockets.sync.client" 2>/dev/null; then
  exec "$py" "$here/screenshot.py" "$url" "$out" --size "$size" "$@"
fi
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "chromium not found: apt-get install -y chromium" >&2
  exit 1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$out"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --window-size="${size/x/,}" \
  --virtual-time-budget=20000 --screenshot="$out" "$url" >/dev/null 2>&1 || true
if [ ! -s "$out" ]; then
  echo "no screenshot written (is $url up?)" >&2
  exit 1
fi
echo "$out"
