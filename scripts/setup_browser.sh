#!/usr/bin/env bash
# The browser of the serve page's test (tests/test_serve_libretranslate.py): Debian's chromium package,
# driven by Playwright's Python API (which brings its own driver, no browser download).
# Installs it with apt when no Chromium is found, as root or through sudo without a password;
# otherwise says why and leaves the test to skip with that reason. Idempotent and quick.
set -uo pipefail
for browser in "${EVO_MT_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$browser" ] && [ -x "$browser" ]; then
        exit 0
    fi
done
if [ "$(id -u)" = 0 ]; then
    as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "setup: no Chromium, and neither root nor sudo to install Debian's chromium:" \
        "the serve page's browser test will be skipped" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "setup: no Chromium and no apt-get: the serve page's browser test will be skipped" >&2
    exit 0
fi
echo "setup: installing Debian's chromium for the serve page's browser test" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq >/dev/null \
    && "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null \
    || echo "setup: apt-get could not install chromium: the serve page's browser test will be skipped" >&2
exit 0
