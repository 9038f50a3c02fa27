# mxbench front door. `make test` and `make bench` set up what they need (.ci/deps.sh), configure
# and build into build/, then run. `make help` lists the targets.
BUILD_DIR ?= build
WERROR ?= ON
JOBS ?= $(shell nproc 2>/dev/null || echo 4)
export PATH := $(PATH):/usr/local/cuda/bin

# An offline bundle unpacked by .ci/deps.sh is searched like a system prefix.
DEPS_PREFIX := $(CURDIR)/.deps/root/usr
CMAKE_ARGS = -DMX_WERROR=$(WERROR) $(if $(wildcard $(DEPS_PREFIX)),-DCMAKE_PREFIX_PATH=$(DEPS_PREFIX))

.PHONY: all build test bench clean help deps-test deps-bench bundle

all: build

help:
	@echo "make            configure and build into $(BUILD_DIR)/ (CLI: $(BUILD_DIR)/mxbench)"
	@echo "make test       install what is missing, build, run every Criterion suite (GPU suites"
	@echo "                skip without a GPU); one suite: ctest --test-dir $(BUILD_DIR) -V -R NAME"
	@echo "make bench      build, run the standard sweep on the GPU into results/<UTC time>/"
	@echo "                (SUITE=smoke|decode|prefill|gpt-oss-20b|gpt-oss-120b|nightly)"
	@echo "make bundle     download the Debian packages into .deps/debs/ for an offline GPU box"
	@echo "make clean      remove $(BUILD_DIR)/"
	@echo "variables: BUILD_DIR=$(BUILD_DIR) WERROR=$(WERROR) (warnings as errors) JOBS=$(JOBS)"

build:
	cmake -S . -B $(BUILD_DIR) $(CMAKE_ARGS) -DMX_BUILD_TESTS=$(or $(TESTS),AUTO)
	cmake --build $(BUILD_DIR) -j $(JOBS)

deps-test:
	@bash .ci/deps.sh ensure test

# Recursive make: the bundle may have been unpacked just now, and CMAKE_ARGS must see it.
test: deps-test
	@$(MAKE) --no-print-directory build TESTS=ON
	ctest --test-dir $(BUILD_DIR) --output-on-failure -V

# The main job: the standard sweep into results/<UTC time>/ (SUITE=... picks another sweep).
SUITE ?= standard
RUN_ID := $(shell date -u +%Y%m%dT%H%M%SZ)
bench: build
	$(BUILD_DIR)/mxbench run --suite $(SUITE) --out results/$(RUN_ID)

bundle:
	bash .ci/deps.sh bundle test

clean:
	rm -rf $(BUILD_DIR)
