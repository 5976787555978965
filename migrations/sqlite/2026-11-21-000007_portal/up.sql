-- The agent portal: its users, their sessions, an append-only audit log, and float issuance
-- requests that one operator admin records and another approves (maker-checker).
--
-- Agent owners and super-agents sign in with their agent code. `agents.password_hash` stays the
-- password an agent is created with (by `mkoba admin create-agent` or an import); the first
-- sign-in with that code adopts it into `portal_users`, which owns it from then on (lockout,
-- changes). Till operators and operator admins exist only here.

CREATE TABLE portal_users (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL UNIQUE CHECK (length(login) BETWEEN 3 AND 32),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role TEXT NOT NULL CHECK (role IN ('till_operator', 'agent_owner', 'super_agent', 'operator_admin')),
    -- The agent a till operator, owner or super-agent acts for; operator admins act for no agent.
    agent_id BIGINT REFERENCES agents (id),
    password_hash TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL DEFAULT 0,
    failed_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    CHECK ((role = 'operator_admin') = (agent_id IS NULL))
);
CREATE INDEX portal_users_agent ON portal_users (agent_id);

-- The cookie carries a random id; only its SHA-256 is stored, so a leaked table opens no session.
CREATE TABLE portal_sessions (
    id_hash TEXT PRIMARY KEY CHECK (length(id_hash) = 64),
    user_id BIGINT NOT NULL REFERENCES portal_users (id),
    csrf_token TEXT NOT NULL CHECK (length(csrf_token) BETWEEN 32 AND 64),
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX portal_sessions_user ON portal_sessions (user_id);
CREATE INDEX portal_sessions_created ON portal_sessions (created_at);

CREATE TABLE portal_audit (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL,
    -- NULL for a sign-in attempt with an unknown login.
    user_id BIGINT REFERENCES portal_users (id),
    login TEXT NOT NULL CHECK (length(login) <= 64),
    action TEXT NOT NULL CHECK (length(action) <= 64),
    detail TEXT NOT NULL CHECK (length(detail) <= 1024),
    outcome TEXT NOT NULL CHECK (length(outcome) <= 128)
);
CREATE INDEX portal_audit_at ON portal_audit (id DESC);
CREATE TRIGGER portal_audit_no_update BEFORE UPDATE ON portal_audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE on portal_audit refused'); END;
CREATE TRIGGER portal_audit_no_delete BEFORE DELETE ON portal_audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE on portal_audit refused'); END;

CREATE TABLE float_requests (
    id INTEGER PRIMARY KEY,
    agent_id BIGINT NOT NULL REFERENCES agents (id),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    -- The trust bank's reference: one deposit, one issuance (it is the ledger's idempotency key).
    trust_reference TEXT NOT NULL UNIQUE CHECK (length(trust_reference) BETWEEN 3 AND 40),
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    recorded_by BIGINT NOT NULL REFERENCES portal_users (id),
    recorded_at BIGINT NOT NULL,
    decided_by BIGINT REFERENCES portal_users (id),
    decided_at BIGINT,
    transaction_id BIGINT REFERENCES transactions (id),
    -- Maker-checker in the schema too: nobody approves their own request.
    CHECK (decided_by IS NULL OR decided_by <> recorded_by),
    CHECK ((status = 'pending') = (decided_by IS NULL))
);
CREATE INDEX float_requests_status ON float_requests (status, id);
