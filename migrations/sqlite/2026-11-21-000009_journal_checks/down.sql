DROP TRIGGER accounts_never_deleted;
