#!/usr/bin/env bash
# The GPU run of issue #18, from a fresh checkout: person 1080p, track (SAM 2.1-tiny-sized,
# random weights) and key, end to end (decode -> pinned buffers -> overlapped copies ->
# bf16 autocast -> EXR) against model only; prints end-to-end / model-only fps.
# Goals on one H100-class GPU: end-to-end >= 80 % of model-only, person 1080p >= 150 fps,
# track >= 60 fps. Budget: < 8 minutes (about 1 to install, 1-3 per engine at 240 frames).
#
#   bench/gpu.sh [--cpu-dry-run] [--wheels DIR] [-- extra bench_gpu.py args, e.g. --dtype fp16]
#
# Wheels: the machine has torch, transformers, numpy and OpenCV but not the rest of segmatte's
# needs; copy them beside the checkout (default DIR: .whl in the repo root), made here with
#   bench/gpu.sh --fetch-wheels      (pip download, cp312 manylinux, --no-deps)
# They install with pip --no-index into a private folder; segmatte itself is put on the path
# from the checkout (no pip install of the repo). Results: $SEGMATTE_GPU_OUT (default $OUT, or
# bench/results) / gpu.json. Without CUDA it stops with one sentence (exit 2).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
WHEELS="$ROOT/.whl"
DRY=0
EXTRA=()
# what segmatte imports that the CUDA image lacks (pydantic for options, OpenImageIO for EXR),
# and the transformers this project tests with (the image's 5.17 may differ in the session
# internals models/track/session_fields.py reads); versions as in the dev venv
NEEDED=(pydantic==2.13.4 pydantic-core==2.46.4 annotated-types==0.7.0 typing-inspection==0.4.2
        OpenImageIO==3.2.2.0 transformers==5.25.0 huggingface-hub==2.4.0)
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-dry-run) DRY=1 ;;
    --wheels) WHEELS="$2"; shift ;;
    --fetch-wheels)
      mkdir -p "$WHEELS"
      python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$WHEELS" "${NEEDED[@]}"
      exit 0 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "gpu.sh: unknown argument $1 (see the comment at the top of bench/gpu.sh)" >&2; exit 64 ;;
  esac
  shift
done
PY="${PYTHON:-python3}"
if [ -x "$ROOT/.venv/bin/python" ] && [ -z "${PYTHON:-}" ]; then PY="$ROOT/.venv/bin/python"; fi

SITE="$(mktemp -d /tmp/segmatte-gpu-site.XXXXXX)"
trap 'rm -rf "$SITE"' EXIT
if compgen -G "$WHEELS/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE/lib" \
    "$WHEELS"/*.whl
fi
# segmatte from this checkout: its packages are folders mapped by pyproject.toml's package-dir
mkdir -p "$SITE/pkg/segmatte"
ln -s "$ROOT/server" "$SITE/pkg/segmatte/server"
ln -s "$ROOT/models" "$SITE/pkg/segmatte/models"
ln -s "$ROOT/plugin/client" "$SITE/pkg/segmatte/client"
export PYTHONPATH="$SITE/pkg:$SITE/lib${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1

if [ "$DRY" = 0 ] && ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "gpu.sh: CUDA is not available here (torch sees no GPU); run this on a CUDA machine, or use --cpu-dry-run to check the logic on the CPU" >&2
  exit 2
fi
"$PY" -c 'import segmatte.models.frames, segmatte.server.output.exr, transformers, cv2' || {
  echo "gpu.sh: a module segmatte needs is missing; copy its wheels to $WHEELS (bench/gpu.sh --fetch-wheels, where pip works)" >&2
  exit 3; }
OUTDIR="${SEGMATTE_GPU_OUT:-${OUT:-$ROOT/bench/results}}"
mkdir -p "$OUTDIR"
ARGS=(--json "$OUTDIR/gpu.json")
[ "$DRY" = 1 ] && ARGS+=(--cpu-dry-run)
[ "$DRY" = 0 ] && command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
exec timeout 470 "$PY" "$ROOT/bench/bench_gpu.py" "${ARGS[@]}" ${EXTRA[@]+"${EXTRA[@]}"}
