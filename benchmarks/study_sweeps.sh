#!/usr/bin/env bash
# The study of issue 10, in resumable parts: rerun the same line to continue (finished runs are
# skipped, an interrupted one resumes from its newest complete checkpoint). Run from a clean
# checkout (bundles refuse +dirty runs), one seed at a time so a partial sweep is balanced:
#   SEEDS=0 bash benchmarks/study_sweeps.sh forward; SEEDS=0,1 ...; SEEDS=0,1,2 ...
# Then: mteb-hybrid leaderboard sweeps/<name> --per-language --bundle leaderboards/<name>
set -euo pipefail
export MTEB_HYBRID_DATA=${MTEB_HYBRID_DATA:-../shared/data} HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
SEEDS=${SEEDS:-0}
COMMON=(--base-model "$(mteb-hybrid default-model)" --seeds "$SEEDS" --max-steps 300
        --batch-size 32 --max-seq-length 64 --save-steps 50 --queries-per-language 204)
case "${1:-forward}" in
  forward)  # headline: trained on XQuAD-R, zero-shot on FLORES (bn mi quy sw te) and MLQA-R
    mteb-hybrid sweep "${COMMON[@]}" --train-data xquad-r \
      --ratios 1:0:0,0:1:0,0:0:1,0.5:0.5:0,0.34:0.33:0.33,0.75:0.25:0,0.25:0.75:0 \
      --tasks FloresRetrieval,MLQARRetrieval --output sweeps/minilm-xquad-r ;;
  reverse)  # trained on MLQA-R, zero-shot on XQuAD-R (unseen el ru th tr) and FLORES
    mteb-hybrid sweep "${COMMON[@]}" --train-data mlqa-r \
      --ratios 1:0:0,0:1:0,0:0:1,0.5:0.5:0,0.34:0.33:0.33 \
      --tasks XQuADRRetrieval,FloresRetrieval --output sweeps/minilm-mlqa-r ;;
  *) echo "usage: SEEDS=0 bash benchmarks/study_sweeps.sh forward|reverse" >&2; exit 2 ;;
esac
