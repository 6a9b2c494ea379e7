-- A worker belongs to the team whose NATS credentials it registered with: the registry reads
-- the team from the subject the registration came on, and dispatches and controls go to that
-- team's subjects, which only the team's credentials may read. Existing workers are the
-- stack's own team.
ALTER TABLE workers ADD COLUMN team text NOT NULL DEFAULT 'default';
