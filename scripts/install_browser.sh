#!/usr/bin/env bash
# Installs the headless browser the browser tests drive: Debian's own `chromium` package.
#
# Playwright's python package drives it via `executable_path="/usr/bin/chromium"`; we never run
# `playwright install`, which downloads a browser build from the network (unavailable in CI and
# on the build machines). Idempotent: does nothing when /usr/bin/chromium is already there.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
    echo "install_browser: $CHROMIUM already installed ($("$CHROMIUM" --version 2>/dev/null || echo unknown version))"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# `chromium` pulls in every shared library it needs (nss, atk, cups, xkbcommon, ...), which are
# also all Playwright's driver needs; fonts-liberation gives pages a readable default font.
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation

"$CHROMIUM" --version
