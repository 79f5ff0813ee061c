"""One claimed command from start to outcome: assembly (``command``), cases, the result budget (``results``),
the lifecycle batches (``lifecycle``), the keychain allow-list and the orchestration (``executor``)."""
