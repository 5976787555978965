DROP TABLE float_requests;
DROP TABLE portal_audit;
DROP FUNCTION refuse_audit_change();
DROP TABLE portal_sessions;
DROP TABLE portal_users;
