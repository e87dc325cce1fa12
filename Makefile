# TRACES access gate for nginx.
#
#   make demo     install what is missing, build, start everything, load demo data
#   make stop     stop what make demo (or an interrupted make test) started
#   make test     the same on private ports, then prove -r t/
#   make bench    throughput figures (see README)
#   make data CERTIFICATES=1000000   volume data into the demo database
#
# SANITIZE=1 builds the module with AddressSanitizer and UBSan.

SHELL      := /bin/bash
ROOT       := $(CURDIR)
BUILD      := $(ROOT)/var/build
NGX_SRC    ?= /usr/share/nginx/src
MODULE     := $(BUILD)/ngx_http_traces_module.so
SOURCES    := config $(wildcard module/*.c module/*.h)
CERTIFICATES ?= 100000

ifeq ($(SANITIZE),1)
CC_OPT     := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined
LD_OPT     := -fsanitize=address,undefined
BUILD_TREE := $(BUILD)/nginx-asan
else
CC_OPT     := -g -O2
LD_OPT     :=
BUILD_TREE := $(BUILD)/nginx
endif

.PHONY: all build deps demo stop test bench data clean

all: build

build: $(MODULE)

deps:
	@t/harness deps

# Debian's nginx-dev ships the configure script and the flags nginx was
# built with, so the module is binary-compatible with /usr/sbin/nginx.
$(MODULE): $(SOURCES)
	@test -x $(NGX_SRC)/configure || t/harness deps
	@mkdir -p $(BUILD)
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

test: deps build
	@t/harness test

bench: deps build
	@t/harness bench

data: deps build
	@t/harness data $(CERTIFICATES)

clean:
	@t/harness stop demo
	@t/harness stop test
	rm -rf var
