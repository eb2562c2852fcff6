#!/usr/bin/env bash
# Build llama-cpp-python (the `llamacpp` extra: `perf measure --engine llama.cpp`) into the
# Python given as $1 (default .venv/bin/python), portably. Only an sdist exists, so pip compiles
# llama.cpp here with cmake: 11 CPU-minutes (measured on a 2-core AMD EPYC VM; 24.5 minutes of
# wall time there while another build shared the cores, so about 6 on 2 free cores). Only
# `scripts/setup.sh all` runs it; the core install never does. CPU only: no BLAS, CUDA, Metal or
# Vulkan.
#
# Why not llama.cpp's default (GGML_NATIVE=ON, -march=native): it compiles every instruction the
# build machine's CPU reports, including AVX-512 and AMX on recent Xeons. A VM can report AMX
# and still refuse it (Linux grants AMX tile state per process); such a build segfaults on
# `ldtilecfg` for any prompt longer than one token. So native tuning is off and the x86
# instruction sets are listed explicitly: SSE4.2, AVX, AVX2, FMA, F16C and BMI2 (x86-64-v3, what
# ggml's fast quantized kernels use), each one only if this machine's /proc/cpuinfo lists it (the
# kernel lists AVX only where the OS saves its registers); AVX-512 and AMX always off.
#
# Why not runtime CPU-variant selection (GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS): the Python
# binding 0.3.36 never calls ggml_backend_load_all(), so loading a model then fails with "no
# backends are loaded" (abetlen/llama-cpp-python#2069), and it compiles ggml's CPU backend
# about 14 times, which takes far longer here.
#
# pip caches a wheel built from an sdist under the sdist's URL only; CMAKE_ARGS are not part of
# that key, so a natively tuned wheel from an earlier build would be reused silently. Hence
# --no-cache-dir (pip's cache neither read nor written), a wheel cache of our own keyed by the
# flags, and a reinstall unless the installed build carries this script's stamp.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-.venv/bin/python}"
VERSION="0.3.36"

args="-DGGML_NATIVE=OFF -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF"
case "$(uname -m)" in
  x86_64 | amd64)
    flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
    for pair in sse4_2:SSE42 avx:AVX avx2:AVX2 fma:FMA f16c:F16C bmi2:BMI2; do
      if [[ "$flags" == *" ${pair%%:*} "* ]]; then on=ON; else on=OFF; fi
      args+=" -DGGML_${pair#*:}=$on"
    done
    for opt in AVX_VNNI AVX512 AVX512_VBMI AVX512_VNNI AVX512_BF16 AMX_TILE AMX_INT8 AMX_BF16; do
      args+=" -DGGML_$opt=OFF"
    done
    ;;
esac
args+=" ${LLMSELECT_LLAMACPP_CMAKE_ARGS:-}"  # extra flags, e.g. a BLAS, at the user's choice

prefix="$("$PY" -c 'import sys; print(sys.prefix)')"
stamp="$prefix/llmselect-llama-cpp-build.txt"
want="llama-cpp-python==$VERSION CMAKE_ARGS=$args"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
  && "$PY" -c 'import llama_cpp' 2>/dev/null; then
  echo "llama-cpp-python $VERSION already built with these flags ($stamp)" >&2
  exit 0
fi
# The wheel built with these flags is kept under the user's cache, keyed by the flags, so a
# fresh clone or venv on the same machine installs it in seconds instead of compiling again.
key="$(printf '%s' "$want" | sha256sum | cut -c1-16)"
wheels="${XDG_CACHE_HOME:-$HOME/.cache}/llmselect/llama-cpp-wheels/$key"
if ! compgen -G "$wheels/llama_cpp_python-*.whl" >/dev/null; then
  echo "building llama-cpp-python $VERSION (minutes): CMAKE_ARGS=$args" >&2
  start=$(date +%s)
  rm -rf "$wheels.partial"
  CMAKE_ARGS="$args" "$PY" -m pip wheel -q --no-cache-dir --no-deps -w "$wheels.partial" \
    "llama-cpp-python==$VERSION"
  rm -rf "$wheels" && mv "$wheels.partial" "$wheels"
  echo "llama-cpp-python built in $(($(date +%s) - start)) s ($wheels)" >&2
fi
"$PY" -m pip install -q --force-reinstall --no-deps "$wheels"/llama_cpp_python-*.whl
"$PY" -m pip install -q "llama-cpp-python==$VERSION"  # its dependencies (numpy, jinja2, ...)
echo "$want" >"$stamp"
