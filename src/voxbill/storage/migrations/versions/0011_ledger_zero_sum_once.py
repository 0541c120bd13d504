"""ledger: the zero-sum check runs once per ledger transaction, not once per entry

Revision ID: 0011
Revises: 0010

On PostgreSQL the deferred constraint trigger of 0004 was queued for every row of
``ledger_entries`` and, at COMMIT, summed the whole ledger transaction for each of them:
a transaction of n legs was summed n times. The trigger keeps its name, its timing
(deferred to COMMIT) and its check, but is queued only for an entry whose ledger
transaction has no check queued and not yet run: a ``WHEN`` condition, evaluated as the
row is inserted, remembers in a transaction-local setting the ledger transaction whose
check it last queued, and the check forgets it when it runs. Every entry is therefore
inserted before a check of its ledger transaction that runs later (a later entry after
an early check, e.g. ``SET CONSTRAINTS … IMMEDIATE``, queues a new one). A setting
changed in a savepoint is restored with it, as are the trigger events queued or fired
in it, so the two stay in step. SQLite has no such trigger (``verify`` checks it there):
nothing to do.
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_PENDING = "voxbill.ledger_zero_sum_pending"

_CHECK = """
    SELECT currency, sum(amount) AS total INTO unbalanced
      FROM ledger_entries WHERE transaction_id = NEW.transaction_id
     GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % is unbalanced in %: sum %',
            NEW.transaction_id, unbalanced.currency, unbalanced.total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
"""

_UPGRADE = [
    f"""
    CREATE FUNCTION ledger_zero_sum_queue(ledger_transaction_id bigint) RETURNS boolean
    LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
        IF current_setting('{_PENDING}', true) = ledger_transaction_id::text THEN
            RETURN false;
        END IF;
        PERFORM set_config('{_PENDING}', ledger_transaction_id::text, true);
        RETURN true;
    END $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION ledger_check_zero_sum() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE unbalanced record;
    BEGIN
        IF current_setting('{_PENDING}', true) = NEW.transaction_id::text THEN
            PERFORM set_config('{_PENDING}', '', true);
        END IF;
        {_CHECK}
    END $$
    """,
    "DROP TRIGGER ledger_entries_zero_sum ON ledger_entries",
    """
    CREATE CONSTRAINT TRIGGER ledger_entries_zero_sum
        AFTER INSERT ON ledger_entries DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN (ledger_zero_sum_queue(NEW.transaction_id))
        EXECUTE FUNCTION ledger_check_zero_sum()
    """,
]

_DOWNGRADE = [
    "DROP TRIGGER ledger_entries_zero_sum ON ledger_entries",
    f"""
    CREATE OR REPLACE FUNCTION ledger_check_zero_sum() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE unbalanced record;
    BEGIN
        {_CHECK}
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER ledger_entries_zero_sum
        AFTER INSERT ON ledger_entries DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION ledger_check_zero_sum()
    """,
    "DROP FUNCTION ledger_zero_sum_queue(bigint)",
]


def _run(statements: list[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in statements:
            op.execute(statement)


def upgrade() -> None:
    _run(_UPGRADE)


def downgrade() -> None:
    _run(_DOWNGRADE)
