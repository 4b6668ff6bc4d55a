"""Training-data sources: each turns one input format into :class:`TrainingRecord` objects.

- :mod:`.lareqa`: LAReQA-format SQuAD JSON folders (XQuAD-R, MLQA-R, translated SQuAD).
- :mod:`.tabular`: generic JSONL / Parquet with ``id``, ``lang``, ``query``, ``positive``
  and an optional ``negative``.
- :mod:`.mmarco`: mMARCO from the Hugging Face Hub (or a local copy in the same layout), streamed.
- :mod:`.spec`: the ``--train-data`` spec strings that pick one of the above.
"""
