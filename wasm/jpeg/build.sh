#!/usr/bin/env bash
# Builds wasm/jpeg/jpeg.wasm: libjpeg-turbo's decompressor plus decoder.c,
# compiled with clang + wasm-ld + wasi-libc into a standalone module.
#
# The built module is committed; CI does not run this script. Rerun it after
# changing decoder.c or the flags below, then rerun the wasm-jpeg tests.
#
# Everything comes from Debian bookworm (root, apt sources with deb-src):
#   apt-get install clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32 dpkg-dev
#   (deb-src: add "deb-src" to Types in /etc/apt/sources.list.d/debian.sources)
# Source: Debian's libjpeg-turbo 1:2.1.5-2 (upstream 2.1.5 with Debian's
# patches applied by dpkg-source; they touch x86 SIMD, CMake and a man page,
# nothing compiled here).
#
# Module shape (checked at the end): imports only env.memory (the JS wrapper
# supplies it, with a maximum that caps what a hostile file can allocate) and
# env.jd_fail (throws); no WASI imports, no Emscripten glue.
set -euo pipefail

DEB_VERSION="1:2.1.5-2"
ORIG_SHA256="254f3642b04e309fee775123133c6464181addc150499561020312ec61c1bf7c"
DEBIAN_SHA256="cdb2433c2f7101345c1ffa14efb943787c675b86354691a32490845fe4bc9237"
CC="${CC:-clang-16}"
WASI_SYSROOT="${WASI_SYSROOT:-/usr}"   # Debian's wasi-libc: /usr/{include,lib}/wasm32-wasi

for tool in "$CC" wasm-ld-16 dpkg-source node; do
  command -v "$tool" >/dev/null || { echo "missing $tool (see the apt-get line above)" >&2; exit 1; }
done
[ -f "$WASI_SYSROOT/lib/wasm32-wasi/libc.a" ] || { echo "missing wasi-libc" >&2; exit 1; }

here="$(cd "$(dirname "$0")" && pwd)"
build="${BUILD_DIR:-/tmp/jpeg-wasm-build}"
mkdir -p "$build"
cd "$build"

# --- source: Debian's package, verified -----------------------------------
if [ ! -d src ]; then
  apt-get source --download-only "libjpeg-turbo=${DEB_VERSION}"
  echo "${ORIG_SHA256}  libjpeg-turbo_2.1.5.orig.tar.gz" | sha256sum -c -
  echo "${DEBIAN_SHA256}  libjpeg-turbo_2.1.5-2.debian.tar.xz" | sha256sum -c -
  dpkg-source -x libjpeg-turbo_2.1.5-2.dsc src
fi
src="$build/src"

# --- the configuration headers CMake would generate -----------------------
# Values match upstream's defaults (libjpeg v6b API, arithmetic decoding on)
# for a 32-bit target without SIMD; wasm's >> on signed ints is arithmetic.
gen="$build/gen"
mkdir -p "$gen"
cat > "$gen/jconfig.h" <<'EOF'
#define JPEG_LIB_VERSION  62
#define LIBJPEG_TURBO_VERSION  2.1.5
#define LIBJPEG_TURBO_VERSION_NUMBER  2001005
#define C_ARITH_CODING_SUPPORTED 1
#define D_ARITH_CODING_SUPPORTED 1
#define MEM_SRCDST_SUPPORTED  1
#define BITS_IN_JSAMPLE  8
EOF
cat > "$gen/jconfigint.h" <<'EOF'
#define BUILD  "wasm32"
#undef inline
#define INLINE  __inline__ __attribute__((always_inline))
#define THREAD_LOCAL
#define PACKAGE_NAME  "libjpeg-turbo"
#define VERSION  "2.1.5"
#define SIZEOF_SIZE_T  4
#define HAVE_BUILTIN_CTZL
#if defined(__has_attribute)
#if __has_attribute(fallthrough)
#define FALLTHROUGH  __attribute__((fallthrough));
#else
#define FALLTHROUGH
#endif
#else
#define FALLTHROUGH
#endif
EOF
sed -e 's/@COPYRIGHT_YEAR@/1991-2023/' "$src/jversion.h.in" > "$gen/jversion.h"

# --- compile ---------------------------------------------------------------
# -Os: on the 12 MP photo, -O2, -O3 and -O2 -msimd128 decoded no faster
# (entropy decoding dominates; within noise) and were 11-40% larger.
# bulk-memory turns memcpy/memset into single instructions. NO_GETENV, NO_PUTENV: no environment (JPEGMEM) use.
CFLAGS=(--target=wasm32-wasi --sysroot="$WASI_SYSROOT" -Os -DNDEBUG
        -mbulk-memory -mnontrapping-fptoint -msign-ext
        -ffunction-sections -fdata-sections -DNO_GETENV -DNO_PUTENV
        -I"$gen" -I"$src" -w)

# libjpeg-turbo's JPEG_SOURCES decompression half (CMakeLists.txt) with the
# non-SIMD stubs; the linker drops what decoder.c does not reach.
sources=(jaricom jcomapi jdapimin jdapistd jdarith jdatasrc jdcoefct jdcolor
         jddctmgr jdhuff jdicc jdinput jdmainct jdmarker jdmaster jdmerge
         jdphuff jdpostct jdsample jdtrans jerror jidctflt jidctfst jidctint
         jidctred jquant1 jquant2 jutils jmemmgr jmemnobs jsimd_none)
objs=()
mkdir -p obj
for s in "${sources[@]}"; do
  "$CC" "${CFLAGS[@]}" -c "$src/$s.c" -o "obj/$s.o"
  objs+=("obj/$s.o")
done
"$CC" "${CFLAGS[@]}" -Wall -Wextra -Werror -c "$here/decoder.c" -o obj/decoder.o

# --- link --------------------------------------------------------------------
# Reactor: no main; JS calls _initialize once, then the jd_* exports.
# Memory is imported so JS chooses its maximum; 1 MiB initial holds the
# 64 KiB stack (placed first, so an overflow traps instead of corrupting data)
# and libjpeg's static tables.
"$CC" "${CFLAGS[@]}" -mexec-model=reactor -o "$build/jpeg.wasm" \
  obj/decoder.o "${objs[@]}" \
  -Wl,--import-memory -Wl,--initial-memory=1048576 \
  -Wl,-z,stack-size=65536 -Wl,--stack-first \
  -Wl,--gc-sections -Wl,--strip-all

install -m 644 "$build/jpeg.wasm" "$here/jpeg.wasm"

# --- check the module's shape -------------------------------------------------
node --input-type=module -e '
  import { readFileSync } from "node:fs";
  const m = new WebAssembly.Module(readFileSync(process.argv[1]));
  const imports = WebAssembly.Module.imports(m).map((i) => `${i.module}.${i.name}`).sort();
  const want = ["env.jd_fail", "env.memory"];
  if (JSON.stringify(imports) !== JSON.stringify(want)) {
    console.error("unexpected imports:", imports);
    process.exit(1);
  }
  console.log("imports:", imports.join(", "));
  console.log("exports:", WebAssembly.Module.exports(m).map((e) => e.name).join(", "));
' "$here/jpeg.wasm"
echo "jpeg.wasm: $(stat -c %s "$here/jpeg.wasm") bytes, sha256 $(sha256sum "$here/jpeg.wasm" | cut -d" " -f1)"
