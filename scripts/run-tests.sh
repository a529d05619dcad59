#!/usr/bin/env bash
# Builds the XCTest suite optimised and runs it, closing with one plain line: "tests: N passed, N failed".
#
# The build is release with testable imports, in its own scratch folder (.build-tests), so that the
# release binary in .build (make demo, make bench-*) is left alone: the engine's C kernels and Swift
# are built without per-target optimisation flags (a package others depend on may not have them),
# and unoptimised they would make the model tests some 20x slower. DXKIT_TEST_CONFIG=debug runs the
# debug build in .build instead. The engine and model-equality tests run under every instruction
# set this CPU offers (AVX-512, AVX2, portable C; DXKIT_ISA=avx2 or generic caps them): the closing
# line says which ran. Arguments go to `swift test` (e.g. --filter EngineTests).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${DXKIT_TEST_CONFIG:-release}" = debug ]; then
  scratch=.build
  "${SWIFT:-swift}" build --build-tests || exit 1
  config=()
else
  scratch=.build-tests
  "${SWIFT:-swift}" build -c release --build-tests -Xswiftc -enable-testing --scratch-path "$scratch" || exit 1
  config=(-c release --scratch-path "$scratch")
fi
log=$scratch/test.log
"${SWIFT:-swift}" test --skip-build --disable-swift-testing "${config[@]}" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(grep -cE "^Test Case '.*' passed" "$log")
failed=$(grep -cE "^Test Case '.*' failed" "$log")
isas=$(grep -oE "^pneumonia \(([a-z0-9]+)\)" "$log" | sed -E 's/.*\((.*)\)/\1/' | paste -sd, -)
echo "tests: $passed passed, $failed failed${isas:+ (engine and model tests under $isas)}"
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then echo "no test ran" >&2; exit 1; fi
exit "$status"
