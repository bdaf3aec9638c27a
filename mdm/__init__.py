"""Masked Depth Modeling (MDM): a small trainer, evaluator and depth-completion tool for the shards.

Modules: ``model`` (ViT encoder over RGB + kept depth tokens, ConvStack decoder), ``layers`` (its
building blocks), ``masking`` (which depth patches are dropped), ``data`` (streaming shard dataset),
``augment``, ``block_masks`` (block-corruption protocols), ``baselines`` (classical fills), ``train``,
``evaluate``, ``complete``, ``checkpoint``, ``synthetic`` (analytic fixture scenes), ``commands`` (CLI).
"""
