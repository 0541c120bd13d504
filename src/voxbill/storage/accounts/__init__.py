"""The accounts table behind the accounts context's repository
(:class:`~voxbill.storage.accounts.repository.SqlAccountRepository`)."""
