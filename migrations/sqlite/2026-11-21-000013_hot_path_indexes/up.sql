-- Every confirmed transfer writes two outbox rows; this index put each of them on a random page
-- (numbers are random), which was 13% of SQLite ledger throughput (10,900 -> 12,600 transfers/s
-- without it in mkoba-bench). Only the development inbox (/dev/sms/{number}) looked messages up
-- by number, and it now reads the most recent rows instead (sms::outbox::for_recipient).
DROP INDEX sms_outbox_recipient;
-- transactions.code keeps its UNIQUE here: SQLite cannot drop a column constraint without
-- rebuilding the journal table (see ops/BENCHMARKS.md, session 6). PostgreSQL drops it.
