"""``rds-guard ledger ACTION``: the fleet ledger itself (``init``), and `options`, the
``--ledger``/``--checkpoints`` options the ledger's commands share (``audit ship``,
``audit checkpoint``, ``audit query``, ``audit verify --ledger``). docs/ledger.md.
"""
