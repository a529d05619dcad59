#!/usr/bin/env bash
# Runs the XCTest suite (already built) and closes with one plain line: "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
# Built by `make test` (release, testable, in .build-test).
log=.build-test/test.log
swift test -c release --scratch-path .build-test --skip-build --disable-swift-testing "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(grep -cE "^Test Case '.*' passed" "$log")
failed=$(grep -cE "^Test Case '.*' failed" "$log")
echo "tests: $passed passed, $failed failed"
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then echo "no test ran" >&2; exit 1; fi
exit "$status"
