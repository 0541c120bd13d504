"""The account tree: operators, resellers, customers, users, calling cards and vendors —
creating, reading, changing, moving and blocking them, each checked against the caller's
place in the tree (:class:`~voxbill.services.accounts.service.AccountService`)."""
