-- vote_audit keeps only the two unique indexes the counting rule needs: every extra index is
-- paid on every vote (the separate law_id index cost 15-20 % of drain throughput in
-- bench/e2e.sh). The citizen+law key now leads with law_id, so it also serves per-law audit
-- queries (`WHERE law_id = ...`).
DROP INDEX vote_audit_law_id_idx;
ALTER TABLE vote_audit
    DROP CONSTRAINT vote_audit_citizen_law_key,
    ADD CONSTRAINT vote_audit_law_citizen_key UNIQUE (law_id, citizen_id);
