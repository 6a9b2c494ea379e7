-- Each attempt of a run is fenced by a secret, not only by its number: the lease token of the
-- attempt that holds the run, made by whoever claimed that attempt (the scheduler, or the API
-- or the scheduler ending the run in its worker's place) in the statement that claimed it.
-- The bridge believes an attempt's fence, and applies its outcome, only with this token.
-- NULL: no attempt holds a token (never claimed, or the claim was undone).
ALTER TABLE runs ADD COLUMN lease_token text;
