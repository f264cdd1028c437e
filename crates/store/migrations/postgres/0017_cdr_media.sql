-- itsp store, PostgreSQL: what the RTP relay counted of a call, on its record. Keep in
-- step with ../sqlite/0017_cdr_media.sql.
--
-- RTP packets each side sent to the relay and the packets of that side lost on the way
-- (RFC 3550 A.3: expected less received), and the RTP bytes of both. Empty for a call
-- whose media the relay did not carry. Filled when the relay session ends, which may be
-- a moment after the record was written.
ALTER TABLE cdrs ADD COLUMN caller_packets BIGINT;
ALTER TABLE cdrs ADD COLUMN caller_lost BIGINT;
ALTER TABLE cdrs ADD COLUMN callee_packets BIGINT;
ALTER TABLE cdrs ADD COLUMN callee_lost BIGINT;
ALTER TABLE cdrs ADD COLUMN media_bytes BIGINT;
