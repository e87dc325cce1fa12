# TRACES access gate for nginx.
#
#   make demo     install what is missing, build, start everything, load demo data
#   make stop     stop what make demo (or an interrupted make test) started
#   make test     the same on private ports, then prove -r t/
#   make bench    throughput figures (see README)
#   make data CERTIFICATES=1000000   volume data into the demo database
#   make fuzz     every libFuzzer target of t/fuzz/ for FUZZ_SECONDS each
#   make soak     SOAK_SECONDS at 80 % of the measured maximum (t/soak/run)
#
# SANITIZE=1 builds the module with AddressSanitizer and UBSan, into
# var/build/asan/, and make test then runs the suite with nginx loading it.

SHELL      := /bin/bash
ROOT       := $(CURDIR)
BUILD      := $(ROOT)/var/build
NGX_SRC    ?= /usr/share/nginx/src
MODULE     := $(BUILD)/ngx_http_traces_module.so
SOURCES    := config $(wildcard module/*.c module/*.h)
CERTIFICATES ?= 100000

FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 600
ENV        ?= test

ifeq ($(SANITIZE),1)
CC_OPT     := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fsanitize-recover=address
LD_OPT     := -fsanitize=address,undefined
BUILD_TREE := $(BUILD)/nginx-asan
MODULE     := $(BUILD)/asan/ngx_http_traces_module.so
HARNESS_ENV := TRACES_SANITIZE=1 TRACES_MODULE=$(MODULE)
else
CC_OPT     := -g -O2
LD_OPT     :=
BUILD_TREE := $(BUILD)/nginx
HARNESS_ENV :=
endif

.PHONY: all build deps demo stop test bench data clean fuzz soak

all: build

build: $(MODULE)

deps:
	@t/harness deps

# Debian's nginx-dev ships the configure script and the flags nginx was
# built with, so the module is binary-compatible with /usr/sbin/nginx.
$(MODULE): $(SOURCES)
	@test -x $(NGX_SRC)/configure || t/harness deps
	@mkdir -p $(BUILD) $(dir $(MODULE))
	@if [ ! -f $(BUILD_TREE)/Makefile ] || [ config -nt $(BUILD_TREE)/Makefile ]; then \
	    rm -rf $(BUILD_TREE) && cp -r $(NGX_SRC) $(BUILD_TREE) && \
	    cd $(BUILD_TREE) && . ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt="$(CC_OPT) -Wall -Wextra -Werror -Wno-unused-parameter" \
	        --with-ld-opt="$(LD_OPT)" \
	        --add-dynamic-module=$(ROOT) >/dev/null; \
	fi
	@$(MAKE) -s -C $(BUILD_TREE) -f objs/Makefile modules
	@cp $(BUILD_TREE)/objs/ngx_http_traces_module.so $@.tmp && mv -f $@.tmp $@
	@echo "built $@"

demo: deps build
	@t/harness start demo

stop:
	@t/harness stop demo
	@t/harness stop test

# the whole suite with the gate speaking OpenID Connect, then CAS
test: deps build
	@$(HARNESS_ENV) t/harness test
	@$(HARNESS_ENV) TRACES_PROTOCOL=cas t/harness test

# libFuzzer targets (clang): t/fuzz/run builds them under var/build/fuzz/
fuzz: deps
	@t/fuzz/run $(FUZZ_SECONDS)

# ENV=devN to soak a developer stack instead of the test one
soak: deps build
	@SOAK_SECONDS=$(SOAK_SECONDS) t/soak/run $(ENV)

bench: deps build
	@t/harness bench

data: deps build
	@t/harness data $(CERTIFICATES)

clean:
	@t/harness stop demo
	@t/harness stop test
	rm -rf var
