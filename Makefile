# The test command documented in README.md is `make test`; .ci/run calls it.
GO ?= go
# Seconds each fuzz target runs in `make test` (a smoke run; fuzz longer by hand).
FUZZTIME ?= 4s
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test vet lint unit peers fuzz demo-anywhere bench build vulncheck

build:
	$(GO) build -o bin/dvsync ./cmd/dvsync

vet:
	$(GO) vet ./...
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

lint:
	$(GO) run $(STATICCHECK) ./...

unit:
	$(GO) test -race -count=1 ./...

# Drive the reference servers with real third-party clients (npm packages, Python's xmlrpc.client).
peers:
	@if [ -f testdata/peers/package.json ]; then ./testdata/peers/run.sh; fi

# Every fuzz target for FUZZTIME from its seed corpus: catches a crash a
# change brings back. `make fuzz FUZZTIME=5m` for a real session.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for target in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg >/tmp/dvsync-fuzz.log 2>&1 || { cat /tmp/dvsync-fuzz.log; exit 1; }; \
	  done; \
	done

# The README's first command, as a user runs it: the built binary from an
# empty folder, no checkout around it.
demo-anywhere:
	@set -e; tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	$(GO) build -o "$$tmp/dvsync" ./cmd/dvsync; \
	(cd "$$tmp" && ./dvsync demo --quiet --out demo); \
	echo "demo ran from an empty folder: $$(ls "$$tmp/demo" | tr '\n' ' ')"

test: vet lint unit peers demo-anywhere

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Before a release: known vulnerabilities in the code paths dvsync uses.
vulncheck:
	$(GO) run golang.org/x/vuln/cmd/govulncheck@v1.9.0 ./...
