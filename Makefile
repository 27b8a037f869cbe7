# Palisade build, test and benchmark entry points.
GO ?= go
# Everything builds without cgo: see runsc/cgo_guard.go.
export CGO_ENABLED := 0

.PHONY: all build test bench deps clean

all: build

# runsc is one static binary: the sentry and the gofer re-execute it from
# places where no dynamic loader exists.
build:
	$(GO) build -trimpath -o bin/runsc ./runsc

# Installs what the tests need on a fresh Debian machine.
deps:
	./scripts/install-deps.sh

# The one test command: unit tests, the C conformance suite (natively and
# under runsc) and the end-to-end tests, all as `go test` output. Needs root.
test: deps build
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

# Per-operation costs under runsc divided by native.
bench: build
	$(GO) run ./test/bench

clean:
	rm -rf bin test/syscalls/build
