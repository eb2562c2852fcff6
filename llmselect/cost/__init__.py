"""What training or adapting a model costs: compute, GPU-hours, memory per GPU.

Pure Python (no torch): ``compute`` turns architecture numbers into training FLOPs and GPU-hours
for a GPU's peak throughput and a model-FLOPs utilisation (MFU); ``finetune`` gives the memory
per GPU of full, LoRA and QLoRA fine-tuning (the recommender's ``--finetune`` uses it too) and
the time per epoch from the same compute model; ``published`` sets published training runs and
fine-tuning memory tables beside our estimates.
"""
