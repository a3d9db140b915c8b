# mailhop — make run (the playground on http://127.0.0.1:8080), make test.
SHELL := /bin/bash
GO ?= go
GOROOT := $(shell $(GO) env GOROOT)
WASM_EXEC_DIR := $(GOROOT)/lib/wasm
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
ADDR ?= 127.0.0.1:8080
BIN := bin/mailhop

.PHONY: all run build wasm test test-go test-race test-wasm test-browser lint deps bench bench-wasm bench-serve bench-imap bench-browser fuzz clean

all: build

## run: build the WASM and serve the playground on http://$(ADDR)
run: wasm
	$(GO) run ./cmd/mailhop play --addr $(ADDR)

## build: the native mailhop binary, with the playground embedded
build: wasm
	$(GO) build -trimpath -o $(BIN) ./cmd/mailhop

## wasm: the browser build of the simulation (web/dist/mailhop.wasm + compressed copies)
wasm:
	./web/build.sh

## test: everything CI runs
test: deps lint test-go test-race test-wasm test-browser

# deps installs what the tests need on a fresh Debian machine.
deps:
	@./.ci/deps

test-go:
	$(GO) test -count=1 ./...

# The simulated network under the race detector (nettest's conformance suite included).
test-race:
	$(GO) test -count=1 -race ./sim/... ./wasm/...

# Every sim package, and the playground's JS API, compiled to WebAssembly and run under Node.
test-wasm:
	PATH="$(WASM_EXEC_DIR):$$PATH" GOOS=js GOARCH=wasm $(GO) test -count=1 ./sim/... ./wasm/...

## test-browser: the playground in headless Chromium (chromedp): typing, clicking, screenshots in testout/
test-browser: wasm
	$(GO) test -count=1 -tags browser ./web/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./sim/... ./wasm/...
	$(GO) vet -tags browser ./web/
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(STATICCHECK) -tags browser ./web/

## bench: every benchmark; figures go in the README
bench: bench-wasm bench-serve bench-imap bench-browser
	$(GO) test -run '^$$' -bench . -benchmem ./...

## bench-wasm: under WebAssembly in Node: the whole chain (BenchmarkChainBurst's msgs/s, the same without DKIM) and a DKIM signature and check, built as Go does by default and as the playground's module is
bench-wasm:
	PATH="$(WASM_EXEC_DIR):$$PATH" GOOS=js GOARCH=wasm $(GO) test -run '^$$' -bench ChainBurst -benchtime 1x ./sim/world/
	PATH="$(WASM_EXEC_DIR):$$PATH" GOOS=js GOARCH=wasm $(GO) test -run '^$$' -bench DKIM -benchtime 2s ./sim/mailauth/
	@echo "bench-wasm: the chain and DKIM built as the playground's module is (web/build.sh --gcflags):"
	PATH="$(WASM_EXEC_DIR):$$PATH" GOOS=js GOARCH=wasm $(GO) test $$(./web/build.sh --gcflags) -run '^$$' -bench 'ChainBurst$$' -benchtime 1x ./sim/world/
	PATH="$(WASM_EXEC_DIR):$$PATH" GOOS=js GOARCH=wasm $(GO) test $$(./web/build.sh --gcflags) -run '^$$' -bench DKIM -benchtime 2s ./sim/mailauth/

## bench-serve: mailhop serve against Postfix, Mailpit and a discarding go-smtp (smtp-source), and its memory
bench-serve:
	GO=$(GO) ./.ci/bench-serve

## bench-imap: imaptest stress (10 and 50 clients) against mailhop serve and Dovecot, default and high-performance; needs IMAPTEST=/path/to/imaptest, skipped without it
bench-imap:
ifeq ($(strip $(IMAPTEST)),)
	@GO=$(GO) ./.ci/bench-imap || { echo; echo "*** bench-imap: skipped: IMAPTEST not set (see above) ***"; echo; }
else
	IMAPTEST=$(IMAPTEST) GO=$(GO) ./.ci/bench-imap
endif

## bench-browser: the playground's download size, time to the first 220 (cold, warm, revisit: medians of 5), long tasks
bench-browser: wasm
	$(GO) test -count=1 -tags browser -run '^$$' -bench . -benchtime 1x ./web/

## fuzz: each fuzz target for FUZZTIME (seeds alone run in make test)
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
	find web/dist -mindepth 1 ! -name .gitkeep -delete
