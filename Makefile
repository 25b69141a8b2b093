# sras-keras — `make help` lists the targets. Everything runs inside .venv, created on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SRAS := $(BIN)/sras
DATA_DIR ?= ../shared/data
DEMO := demo

.DEFAULT_GOAL := help
# CONFIG=paper: the GPU configs; on a machine without a GPU they ask for YES=1
CONFIG ?= cpu

.PHONY: help demo test test-slow bench bench-pipeline bench-convert sras-table2 sras-table3 sras-table4 sras-headline tl-table1 tl-table2 tl-fig2 tl-fig3 shipped-models clean

help: ## List the targets
	@if [ -t 1 ]; then on='\033[36m'; off='\033[0m'; fi; \
	awk -v on="$$on" -v off="$$off" 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %s%-16s%s %s\n", on, $$1, off, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

demo: $(VENV)/.installed ## Main job on embedded synthetic karyotypes (no download, 3-4 min on 2 cores): SRAFBN, IAM, SMOTE, classifier, karyograms
	rm -rf $(DEMO) && mkdir -p $(DEMO) && date +%s > $(DEMO)/.started
	$(SRAS) data synth $(DEMO)/data/synthetic --cells 24 --seed 0
	$(SRAS) data inspect $(DEMO)/data/synthetic
	$(SRAS) cv run --recipe demo --data-root $(DEMO)/data --runs $(DEMO)/runs --tfrecords $(DEMO)/tfrecords
	$(SRAS) report table --recipe demo --runs $(DEMO)/runs --results $(DEMO)/results
	run=$$(ls -d $(DEMO)/runs/demo/*/sras-honest | tail -1); \
	$(SRAS) predict --model $$run $$($(BIN)/python recipes/demo.py cells $$run $(DEMO)/data/synthetic) \
		--karyotype --out $(DEMO)/predict && \
	$(BIN)/python recipes/demo.py summary $$run $(DEMO)/predict --results $(DEMO)/results/demo.md \
		--started $$(cat $(DEMO)/.started)

PRETRAINED := sras_keras/inference/pretrained
shipped-models: $(VENV)/.installed ## Retrain and repackage the shipped models bioimlab-q and gband65-g (~3 h on 2 cores, no time cap)
	SRAS_DATA_DIR=$(DATA_DIR) $(SRAS) cv run --recipe sras_net_headline --set train.max_minutes=null \
		--rows resnet_small_bn-gband-honest,resnet_small_bn-gband65-honest,resnet_small_bn-gband65-plain-honest
	rm -rf $(PRETRAINED)/bioimlab-q $(PRETRAINED)/gband65-g
	$(SRAS) models package $$(ls -d runs/sras_net_headline/*/resnet_small_bn-gband-honest | tail -1) \
		$(PRETRAINED)/bioimlab-q --name bioimlab-q --data-root $(DATA_DIR)
	$(SRAS) models package $$(ls -d runs/sras_net_headline/*/resnet_small_bn-gband65-honest | tail -1) \
		$(PRETRAINED)/gband65-g --name gband65-g --data-root $(DATA_DIR)

test: $(VENV)/.installed-dev ## Lint, recompute every number in results/ from its committed runs, then the default test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(SRAS) report check
	$(BIN)/python -m pytest

test-slow: $(VENV)/.installed-dev ## Run the long tests too
	$(BIN)/python -m pytest -m ""

bench: $(VENV)/.installed ## Every benchmark in one run (~20 min on 2 cores) -> results/bench.md, results/bench.json
	$(BIN)/python benchmarks/bench_all.py --data $(DATA_DIR)/bioimlab

bench-pipeline: $(VENV)/.installed ## Images/s: TFRecord pipeline vs per-file loading vs image_dataset_from_directory
	$(BIN)/python benchmarks/pipeline_bench.py --data $(DATA_DIR)/bioimlab

bench-convert: $(VENV)/.installed ## Full BioImLab conversion at 224 px, 6 vs 24 rotations: time, size, peak RSS
	$(BIN)/python benchmarks/convert_bench.py --data $(DATA_DIR)/bioimlab

sras-table2: $(VENV)/.installed ## SRAS-net Table 2 (CONFIG=cpu|paper): 4 backbones with/without SRAS-net -> results/
	SRAS_DATA_DIR=$(DATA_DIR) $(SRAS) cv run --recipe sras_net_table2 --config $(CONFIG) $(if $(YES),--yes)
	$(SRAS) report table --recipe sras_net_table2

sras-table3: $(VENV)/.installed ## SRAS-net Table 3 (CONFIG=cpu|paper): the SMOTE / SRAFBN / IAM ablation -> results/
	SRAS_DATA_DIR=$(DATA_DIR) $(SRAS) cv run --recipe sras_net_table3 --config $(CONFIG) $(if $(YES),--yes)
	$(SRAS) report table --recipe sras_net_table3

sras-table4: $(VENV)/.installed ## SRAS-net Table 4 + Figs 7-8 (CONFIG=cpu|paper): per-class metrics, both protocols
	SRAS_DATA_DIR=$(DATA_DIR) $(SRAS) cv run --recipe sras_net_table4 --config $(CONFIG) $(if $(YES),--yes)
	$(SRAS) report table --recipe sras_net_table4

sras-headline: $(VENV)/.installed ## CPU headline: resnet_small_bn, 64 px, IAM x2, G band first or not, <= 30 min each, both protocols
	SRAS_DATA_DIR=$(DATA_DIR) $(SRAS) cv run --recipe sras_net_headline --config $(CONFIG) $(if $(YES),--yes)
	$(SRAS) report table --recipe sras_net_headline

tl-table1: $(VENV)/.installed ## Two-step study Table 1 (CONFIG=cpu|paper): MMD^2 / CORAL between bands and natural images
	SRAS_DATA_DIR=$(DATA_DIR) $(SRAS) cv run --recipe tl_table1 --config $(CONFIG)

tl-table2: $(VENV)/.installed ## Two-step study Table 2 (CONFIG=cpu|paper): architectures x approaches x bands, 5-fold CV
	SRAS_DATA_DIR=$(DATA_DIR) $(SRAS) cv run --recipe tl_table2 --config $(CONFIG) $(if $(YES),--yes)
	$(SRAS) report table --recipe tl_table2

tl-fig2: $(VENV)/.installed ## Two-step study Fig 2 over tl-table2's runs: Δ Macro-F1 with paired bootstrap CIs
	$(SRAS) cv run --recipe tl_fig2 --config $(CONFIG)

tl-fig3: $(VENV)/.installed ## Two-step study Figs 3-4 over tl-table2's runs: Grad-CAM of the approaches and of errors
	$(SRAS) cv run --recipe tl_fig3 --config $(CONFIG)

clean: ## Remove the demo output and caches (keeps .venv)
	rm -rf $(DEMO) .pytest_cache build *.egg-info
