-- itsp store, SQLite: how each side's media arrived, on the call's record. Keep in step
-- with ../postgres/0019_cdr_quality.sql.
--
-- The interarrival jitter (RFC 3550 A.8) in milliseconds and the estimated MOS (ITU-T
-- G.107 E-model, 1 to 4.5) of the RTP each side sent to the relay, when the relay could
-- time it (payload types with an 8 kHz clock). Empty otherwise.
ALTER TABLE cdrs ADD COLUMN caller_jitter_ms REAL;
ALTER TABLE cdrs ADD COLUMN caller_mos REAL;
ALTER TABLE cdrs ADD COLUMN callee_jitter_ms REAL;
ALTER TABLE cdrs ADD COLUMN callee_mos REAL;
