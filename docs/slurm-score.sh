#!/bin/bash
# Score a dataset on 2 nodes × 4 GPUs with torchrun under Slurm: one torchrun per node, c10d rendezvous on
# the first node. Started again after a time-out or a failed node, it resumes: -o skips what is done.
#SBATCH --job-name=memstudio-score
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=32
#SBATCH --time=04:00:00
#SBATCH --output=memstudio-score-%j.log

set -euo pipefail
head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export OMP_NUM_THREADS=8   # decoding threads per process: cpus-per-task / GPUs per node

srun torchrun \
    --nnodes "$SLURM_NNODES" \
    --nproc-per-node 4 \
    --rdzv-backend c10d \
    --rdzv-endpoint "$head_node:29500" \
    --rdzv-id "$SLURM_JOB_ID" \
    -m memstudio score -a resmem --batch-size 32 --from /data/lamem/splits/all.csv -o /data/out/lamem.jsonl
