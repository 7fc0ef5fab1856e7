# The whole user interface to the repository. See README.md.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := run

.PHONY: run build test bench site tools fmt lint clean

## make run: build everything (release) and start taskdeck on http://127.0.0.1:3000,
## embedded mode: SQLite in ./data, in-process bus. Extra flags: make run ARGS="--bind 0.0.0.0:8080"
run: build
	./target/release/taskdeck serve $(ARGS)

## make build: the web assets in target/site and target/release/taskdeck, without running.
build: tools
	scripts/build-site.sh release
	cargo build --release -p server

## make test: every test, with real Postgres, Redis and Chromium started on loopback.
test:
	scripts/test.sh

## make bench: ingest benchmarks (figures, not pass/fail); see scripts/bench.sh.
bench:
	scripts/bench.sh $(TASKS)

## make site: the web assets only, dev profile (fast) — for iterating on the UI.
site: tools
	scripts/build-site.sh dev

tools:
	scripts/ensure-tools.sh

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --exclude frontend --all-targets -- -D warnings
	cargo clippy -p frontend -p app --features app/hydrate --target wasm32-unknown-unknown -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p protocol -p taskdeck-worker

clean:
	cargo clean
	rm -rf node_modules end2end/test-results
