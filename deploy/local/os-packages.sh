#!/usr/bin/env bash
# The Debian packages the tests need beyond Python's: Chromium, which the console's browser
# tests drive through Playwright (Playwright cannot download its own browsers on an offline
# network), and the Pango/HarfBuzz libraries WeasyPrint prints the subject access report with
# (HarfBuzz's subsetter too: without it WeasyPrint warns, and the suite runs warnings as errors).
# Installs whichever is absent; does nothing when all are there.
set -euo pipefail
packages=(chromium libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "installing ${missing[*]} from Debian's packages (for the console's browser and PDF tests)"
if [ "$(id -u)" -ne 0 ]; then
    echo "missing: run 'sudo apt-get install ${missing[*]}' (needs root)" >&2
    exit 1
fi
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
