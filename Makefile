# The test command documented in README.md. .ci/run calls `make test`.
GO ?= go

.PHONY: test vet unit peers bench build

build:
	$(GO) build -o bin/dvsync ./cmd/dvsync

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

# Drive the reference servers with real third-party clients (npm packages).
peers:
	@if [ -f testdata/peers/package.json ]; then ./testdata/peers/run.sh; fi

test: vet unit peers

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
