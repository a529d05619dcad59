#!/usr/bin/env bash
# Regenerates Sources/Models/ONNX/onnx.pb.swift from the onnx wheel's onnx.proto. Run by hand when
# the ONNX schema changes (never by the build: the generated file is committed, and SwiftPM only
# compiles it against the SwiftProtobuf runtime library). Needs protoc (Debian: protobuf-compiler)
# and protoc-gen-swift built from apple/swift-protobuf at the version Package.swift names:
#   git clone --branch 1.39.0 https://github.com/apple/swift-protobuf && cd swift-protobuf &&
#   swift build -c release --product protoc-gen-swift
# Usage: scripts/generate-onnx-proto.sh PATH/TO/protoc-gen-swift [PATH/TO/onnx.proto]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PLUGIN=${1:?usage: $0 PATH/TO/protoc-gen-swift [onnx.proto]}
PROTO=${2:-$(ls "$ROOT"/.venv-ref/lib/python3*/site-packages/onnx/onnx.proto | head -n1)}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cp "$PROTO" "$TMP/onnx.proto"
(cd "$TMP" && protoc --plugin=protoc-gen-swift="$PLUGIN" --swift_out=. onnx.proto)
cp "$TMP/onnx.pb.swift" "$ROOT/Sources/Models/ONNX/onnx.pb.swift"
echo "wrote Sources/Models/ONNX/onnx.pb.swift from $PROTO"
