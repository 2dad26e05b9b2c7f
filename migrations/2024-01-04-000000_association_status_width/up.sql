-- doctor_clinics.status was varchar(20), but its own check constraint allows
-- 'temporarily_unavailable' (23 characters): setting that status failed with "value too long"
-- (found by schemathesis). Widening a varchar is a catalogue-only change (no table rewrite).
ALTER TABLE doctor_clinics ALTER COLUMN status TYPE varchar(32);
