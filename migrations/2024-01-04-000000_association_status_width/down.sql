-- Narrowing fails (and changes nothing) while any association is 'temporarily_unavailable':
-- reverting must not rewrite stored statuses.
ALTER TABLE doctor_clinics ALTER COLUMN status TYPE varchar(20);
