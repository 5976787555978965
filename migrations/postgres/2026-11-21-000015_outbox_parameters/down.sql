-- Back to rendered bodies only. An older build cannot render parameters, so a row kept as them
-- keeps its template's name as its body, and one not yet sent is failed with the reason, never
-- sent as that name.
ALTER TABLE sms_outbox DROP CONSTRAINT sms_outbox_segments_of_body;
ALTER TABLE sms_outbox DROP CONSTRAINT sms_outbox_body_or_params;
UPDATE sms_outbox SET status = 'failed', claimed_until = NULL,
    last_error = 'kept as parameters, which this build cannot render (migration 000015 reverted)'
WHERE body IS NULL AND status IN ('queued', 'sending');
UPDATE sms_outbox SET body = '[' || template || ']', segments = 1 WHERE body IS NULL;
ALTER TABLE sms_outbox DROP COLUMN params;
ALTER TABLE sms_outbox ALTER COLUMN segments SET NOT NULL;
ALTER TABLE sms_outbox ALTER COLUMN body SET NOT NULL;
