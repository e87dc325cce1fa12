#!/usr/bin/env bash
# Builds the libFuzzer targets of t/fuzz/ into var/build/fuzz/ with clang
# (Debian: clang, libclang-rt-14-dev), ASan and UBSan.  Needs the nginx
# build tree of make build (its objs/ngx_auto_config.h).
#
#   t/fuzz/build.sh [target ...]     (all of them by default)
#   t/fuzz/build.sh --list           the targets' names
set -euo pipefail
ALL=(cookie redirect crypto jwt validate cas)
if [ "${1:-}" = --list ]; then echo "${ALL[@]}"; exit 0; fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
OUT=$ROOT/var/build/fuzz
NGX=${NGX_BUILD_TREE:-$ROOT/var/build/nginx}
CC=${FUZZ_CC:-$(command -v clang || command -v clang-14)}
[ -n "$CC" ] || { echo "fuzz: clang is missing (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
[ -f "$NGX/objs/ngx_auto_config.h" ] || make -s build >/dev/null
mkdir -p "$OUT/obj"

INC=(-I "$ROOT/t/fuzz" -I "$ROOT/module" -I "$NGX/objs" -I "$NGX/src/core"
     -I "$NGX/src/event" -I "$NGX/src/event/modules" -I "$NGX/src/os/unix"
     -I "$NGX/src/http" -I "$NGX/src/http/modules" -I "$NGX/src/http/v2"
     -I "$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)")
CFLAGS=(-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
        -fno-sanitize-recover=undefined -Wno-unused-parameter -Wno-unused-function
        -Wno-unused-command-line-argument)
LIBS=(-ljansson -lcrypto)

# what each target links besides its own file and the nginx core pieces
declare -A UNITS=(
    [cookie]="module/ngx_http_traces_cookie.c"
    [redirect]="module/ngx_http_traces_redirect.c"
    [crypto]="module/ngx_http_traces_crypto.c"
    [jwt]="module/ngx_http_traces_jwt.c module/ngx_http_traces_crypto.c"
    [validate]="module/ngx_http_traces_validate.c module/ngx_http_traces_redirect.c"
    [cas]="module/ngx_http_traces_redirect.c"
)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")

# nginx's own string, pool and allocation code, from Debian's source package
NGX_CORE=$(t/fuzz/nginx-sources)
CORE=("$NGX_CORE/src/core/ngx_string.c" "$NGX_CORE/src/core/ngx_palloc.c"
      "$NGX_CORE/src/os/unix/ngx_alloc.c" t/fuzz/fuzz_common.c)

obj() {   # source -> object, rebuilt when older than the source
    local src=$1 o
    o=$OUT/obj/$(echo "$src" | tr / _).o
    if [ ! -f "$o" ] || [ "$src" -nt "$o" ] || [ t/fuzz/fuzz_common.h -nt "$o" ]; then
        "$CC" "${CFLAGS[@]}" "${INC[@]}" -c "$src" -o "$o"
    fi
    echo "$o"
}

for t in "${TARGETS[@]}"; do
    objs=()
    for s in "${CORE[@]}" ${UNITS[$t]} "t/fuzz/fuzz_$t.c"; do
        objs+=("$(obj "$s")")
    done
    "$CC" -fsanitize=fuzzer,address,undefined "${objs[@]}" "${LIBS[@]}" -o "$OUT/fuzz_$t"
    echo "built $OUT/fuzz_$t" >&2
done
