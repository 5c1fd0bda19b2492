#!/bin/sh
# oss_selftest.sh -- the OSS fixture reproduces the official signing vectors (TAP)
exec /usr/bin/python3 "${MIAS_SRCDIR:-$(dirname "$0")/..}/tests/fixtures/oss_server.py" --selftest
