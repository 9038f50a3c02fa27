# mxbench front door. `make test` and `make bench` set up what they need (.ci/deps.sh), configure
# and build into build/, then run. `make help` lists the targets.
# SANITIZE=address,undefined: the host C code built with those sanitizers into build-sanitize/
# (one GPU architecture: the sanitized run is of the CPU suites); make test then runs the CPU
# suites only.
SANITIZE ?=
BUILD_DIR ?= $(if $(SANITIZE),build-sanitize,build)
WERROR ?= ON
JOBS ?= $(shell nproc 2>/dev/null || echo 4)
export PATH := $(PATH):/usr/local/cuda/bin

# An offline bundle unpacked by .ci/deps.sh is searched like a system prefix.
DEPS_PREFIX := $(CURDIR)/.deps/root/usr
CMAKE_ARGS = -DMX_WERROR=$(WERROR) $(if $(wildcard $(DEPS_PREFIX)),-DCMAKE_PREFIX_PATH=$(DEPS_PREFIX)) \
	$(if $(MX_CUDA_ARCHS),-DMX_CUDA_ARCHS="$(MX_CUDA_ARCHS)",$(if $(SANITIZE),-DMX_CUDA_ARCHS=90a-real)) \
	-DMX_SANITIZE="$(SANITIZE)"

.PHONY: all build configured-build deps-build test bench report nightly tune install fuzz sanitize verify clean help deps-test deps-bench bundle

all: build

help:
	@echo "make            configure and build into $(BUILD_DIR)/ (CLI: $(BUILD_DIR)/mxbench)"
	@echo "make test       install what is missing, build, run every Criterion suite (GPU suites"
	@echo "                skip without a GPU); one suite: ctest --test-dir $(BUILD_DIR) -V -R NAME"
	@echo "                SANITIZE=address,undefined: host code sanitized, CPU suites (build-sanitize/)"
	@echo "make bench      build, run the standard sweep on the GPU into results/<UTC time>/"
	@echo "                (SUITE=smoke|decode|prefill|gpt-oss-20b|gpt-oss-120b|nightly;"
	@echo "                GPUS=all or 0,1,...: a shard per GPU, merged)"
	@echo "make report     plots + report.md/.html of a run (RUN=results/<id>, default newest)"
	@echo "make nightly    the nightly sweep NIGHTLY_RUNS=3 times, report, compare with"
	@echo "                results/baselines/; fails on a regression"
	@echo "make tune       on a GPU box: measure auto's dispatch table for its GPU model into"
	@echo "                kernels/dispatch/<gpu-model>.csv and rebuild with it (commit it)"
	@echo "make bundle     download the Debian packages (cJSON, Criterion, gnuplot) into .deps/debs/ for"
	@echo "                an offline GPU box (copy .deps/ there)"
	@echo "make install    build, then install into PREFIX=$(PREFIX): the library (lib/), <mxbench/mx.h>,"
	@echo "                the CMake package (find_package(mxbench)), mxbench.pc, bin/mxbench and"
	@echo "                its data (share/mxbench/)"
	@echo "make sanitize   on a GPU box: GPU suites and a smoke sweep under compute-sanitizer"
	@echo "make verify     on a GPU box: every suite, two smoke sweeps, their report and comparison"
	@echo "                (the run-to-run interval check); logs in VERIFY_DIR=$(VERIFY_DIR)"
	@echo "make fuzz       the libFuzzer targets of fuzz/ for FUZZ_SECONDS=$(FUZZ_SECONDS) each (clang)"
	@echo "make clean      remove $(BUILD_DIR)/"
	@echo "variables: BUILD_DIR=$(BUILD_DIR) WERROR=$(WERROR) (warnings as errors) JOBS=$(JOBS)"
	@echo "           MX_CUDA_ARCHS=native (only the GPUs in this box: a faster build; default:"
	@echo "           every GPU from sm_80 to sm_120, see README)"

deps-build:
	@bash .ci/deps.sh ensure build

# Recursive make: a bundle unpacked by deps-build must be seen by CMAKE_ARGS.
build: deps-build
	@$(MAKE) --no-print-directory configured-build

configured-build:
	cmake -S . -B $(BUILD_DIR) $(CMAKE_ARGS) -DMX_BUILD_TESTS=$(or $(TESTS),AUTO)
	cmake --build $(BUILD_DIR) -j $(JOBS)

deps-test:
	@bash .ci/deps.sh ensure test

# Recursive make: the bundle may have been unpacked just now, and CMAKE_ARGS must see it.
# CTest marks a GPU suite skipped when it ran nothing for want of a GPU; the last line says so.
test: deps-test
	@$(MAKE) --no-print-directory configured-build TESTS=ON
	@ctest --test-dir $(BUILD_DIR) --output-on-failure -V --output-log $(BUILD_DIR)/ctest.log \
	  $(if $(SANITIZE),-R '^(cpu_|cli$$)'); \
	status=$$?; skipped=$$(grep -c '(Skipped)$$' $(BUILD_DIR)/ctest.log); \
	if [ "$$skipped" -gt 0 ]; then \
	  echo "$$skipped suites skipped: no usable CUDA device (they ran nothing; make test on a GPU box runs them)"; \
	fi; exit $$status

# gnuplot draws the plots; without it the report is still written (and says so).
deps-bench:
	-@bash .ci/deps.sh ensure bench

# The main job: the standard sweep into results/<UTC time>/ (SUITE=... picks another sweep),
# then its plots and report.
SUITE ?= standard
RUN_ID := $(shell date -u +%Y%m%dT%H%M%SZ)
# GPUS=all (or 0,1,...): one worker per GPU, each a shard, merged (examples/multi-gpu/run.sh).
GPUS ?=
bench:
	@bash .ci/gpu.sh bench
	@$(MAKE) --no-print-directory deps-bench build
ifeq ($(GPUS),)
	$(BUILD_DIR)/mxbench run --suite $(SUITE) --out results/$(RUN_ID)
	$(BUILD_DIR)/mxbench report results/$(RUN_ID)
else
	MXBENCH=$(BUILD_DIR)/mxbench bash examples/multi-gpu/run.sh $(GPUS) results/$(RUN_ID) \
	  --suite $(SUITE)
	$(BUILD_DIR)/mxbench report results/$(RUN_ID)/merged
endif

# Plots and report of a run folder: RUN=results/<id> (default: the newest one).
LATEST_RUN = $(patsubst %/results.csv,%,$(lastword $(sort $(wildcard results/2*/results.csv))))
report:
	@if [ -z "$(or $(RUN),$(LATEST_RUN))" ]; then \
	  echo "make report: no run in results/ yet. make bench makes one on a GPU box; or name a run" \
	    "folder copied from one: make report RUN=path/to/run" >&2; exit 2; fi
	@$(MAKE) --no-print-directory deps-bench build
	$(BUILD_DIR)/mxbench report $(or $(RUN),$(LATEST_RUN))

# The regression gate: the nightly sweep, its report, and a comparison with the committed
# baseline of this GPU model (results/baselines/); exits non-zero on a regression.
# NIGHTLY_RUNS separate runs: the gate compares runs, not one run's samples (results/baselines/).
NIGHTLY_RUNS ?= 3
NIGHTLY_DIR = results/$(RUN_ID)-nightly
nightly:
	@bash .ci/gpu.sh nightly
	@$(MAKE) --no-print-directory deps-bench build
	mkdir -p $(NIGHTLY_DIR)
	for i in $$(seq 1 $(NIGHTLY_RUNS)); do \
	  $(BUILD_DIR)/mxbench run --suite nightly --out $(NIGHTLY_DIR)/$(RUN_ID)-nightly-$$i || exit $$?; \
	done
	@# The report (exit 1 when a plot cannot be drawn, e.g. a bundled gnuplot missing a library)
	@# never stops the gate below: its message stays, the verdict decides the exit status.
	-$(BUILD_DIR)/mxbench report $(NIGHTLY_DIR)/$(RUN_ID)-nightly-1
	@# A regression found is confirmed before the gate fails: the SLOWER rows measured
	@# NIGHTLY_RUNS times more, then compared again with every run (compare.csv: first verdicts,
	@# confirmed/compare.csv: the ones that count).
	@$(BUILD_DIR)/mxbench compare --out $(NIGHTLY_DIR)/first results/baselines $(NIGHTLY_DIR); \
	status=$$?; [ $$status -ne 1 ] && exit $$status; \
	grep -q '^SLOWER,' $(NIGHTLY_DIR)/first/compare.csv || exit 1; \
	echo "make nightly: SLOWER rows: measuring them $(NIGHTLY_RUNS) times more before failing"; \
	for i in $$(seq 1 $(NIGHTLY_RUNS)); do \
	  $(BUILD_DIR)/mxbench run --suite nightly --retry $(NIGHTLY_DIR)/first/compare.csv \
	    --out $(NIGHTLY_DIR)/$(RUN_ID)-confirm-$$i --quiet || exit $$?; \
	done; \
	$(BUILD_DIR)/mxbench compare --out $(NIGHTLY_DIR)/confirmed \
	  --first $(NIGHTLY_DIR)/first/compare.csv results/baselines $(NIGHTLY_DIR)

# auto's dispatch table for this box's GPU model (docs/gemm.md, "Dispatch"): the tune sweep,
# turned into kernels/dispatch/<gpu-model>.csv, then the library rebuilt with it built in.
TUNE_DIR = results/$(RUN_ID)-tune
tune:
	@bash .ci/gpu.sh tune
	@$(MAKE) --no-print-directory build
	$(BUILD_DIR)/mxbench run --suite tune --out $(TUNE_DIR)
	$(BUILD_DIR)/mxbench tune $(TUNE_DIR) --into kernels/dispatch
	@$(MAKE) --no-print-directory configured-build
	@echo "make tune: commit kernels/dispatch/ to make the table the default for this GPU model"

# cJSON for every build, Criterion and pkg-config for make test, gnuplot-nox for the plots:
# everything a GPU box without package access needs (copy .deps/ there).
bundle:
	bash .ci/deps.sh bundle

# On a GPU box: everything a change must pass before its figures are trusted (.ci/gpu-verify.sh).
VERIFY_DIR ?= results/verify-$(RUN_ID)
verify:
	@bash .ci/gpu-verify.sh $(VERIFY_DIR)

# On a GPU box: the GPU suites and a smoke sweep under compute-sanitizer (.ci/sanitize.sh).
sanitize:
	@bash .ci/gpu.sh sanitize
	@$(MAKE) --no-print-directory deps-test
	@$(MAKE) --no-print-directory configured-build TESTS=ON
	bash .ci/sanitize.sh $(BUILD_DIR)

# libFuzzer targets of fuzz/ (clang, ASan + UBSan) into build-fuzz/, FUZZ_SECONDS each. Warnings
# are not errors here: gcc's build (make test) is the warnings gate; clang's extra ones show.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = sweep csv run_json report compare dispatch
fuzz:
	@bash .ci/deps.sh ensure fuzz
	cmake -S . -B build-fuzz $(CMAKE_ARGS) -DCMAKE_C_COMPILER=clang -DMX_FUZZ=ON \
	  -DMX_SANITIZE=address,undefined -DMX_CUDA_ARCHS=90a-real -DMX_BUILD_TESTS=OFF -DMX_WERROR=OFF
	cmake --build build-fuzz -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	bash fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The library for engines (find_package(mxbench) / pkg-config mxbench) and the CLI with its data.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD_DIR)
