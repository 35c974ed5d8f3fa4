#!/usr/bin/env bash
# The console's browser tests drive Debian's Chromium through Playwright (Playwright cannot
# download its own browsers on an offline network): install the `chromium` package if absent.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
echo "installing chromium from Debian's packages (for the console's browser tests)"
if [ "$(id -u)" -ne 0 ]; then
    echo "chromium is missing: run 'sudo apt-get install chromium' (needs root)" >&2
    exit 1
fi
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
