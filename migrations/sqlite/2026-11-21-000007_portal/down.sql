DROP TABLE float_requests;
DROP TRIGGER portal_audit_no_delete;
DROP TRIGGER portal_audit_no_update;
DROP TABLE portal_audit;
DROP TABLE portal_sessions;
DROP TABLE portal_users;
