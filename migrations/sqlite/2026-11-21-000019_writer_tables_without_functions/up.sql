-- Before a statement that writes several rows and may abort changes a page that existed when
-- it began, SQLite copies the page to a statement journal. Any SQL function in a CHECK marks a
-- statement as one that may abort, whatever its conflict clause, and the journal's length checks
-- call `length()`: so every multi-row INSERT of the ledger writer copied the pages it touched
-- (mostly the idempotency key index's), about a tenth of the writer's time (ops/BENCHMARKS.md,
-- session 19). The writer now inserts with `INSERT OR FAIL` and checks these lengths itself
-- before the statement, with the answer SQLite gave (`store::insert_or_fail`); the journal is
-- written by the ledger writer alone. PostgreSQL keeps these CHECKs.
--
-- A CHECK does not change what is stored, so the definitions are edited in place, as in 000017.
-- `store::insert_or_fail::tests::writer_inserts_need_no_statement_journal` asks SQLite's compiler
-- that no statement the writer runs may abort.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(replace(replace(replace(replace(sql,
        ' CHECK (length(code) = 10)', ''),
        ' CHECK (length(idempotency_key) BETWEEN 1 AND 128)', ''),
        ' CHECK (length(currency) = 3)', ''),
        ' CHECK (length(memo) <= 512)', ''),
        ' CHECK (length(metadata) <= 8192)', '')
WHERE type = 'table' AND name = 'transactions';
UPDATE sqlite_schema SET sql = replace(sql, ' CHECK (length(sides) BETWEEN 2 AND 200)', '')
WHERE type = 'table' AND name = 'sms_confirmations_due';
PRAGMA writable_schema = RESET;
