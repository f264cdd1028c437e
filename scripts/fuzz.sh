#!/usr/bin/env bash
# Bounded fuzzing of the sip, sdp, rtp, stun, relay and media crates: scripts/fuzz.sh [SECONDS] runs each cargo-fuzz
# target of fuzz/ for SECONDS (default 60) and fails when a target crashes (the crashing input
# is left in fuzz/artifacts/TARGET/).
#
# Works on a stable toolchain: cargo-fuzz runs without a sanitizer (-s none; Rust code is
# memory-safe, and the targets' assertions still abort), and RUSTC_BOOTSTRAP=1 lets cargo-fuzz
# pass the few unstable flags it uses. Installs cargo-fuzz when missing. The SIP corpora are
# seeded from the RFC 4475 torture messages in shared/testdata beside the project checkout, the
# SDP corpus from the sdp crate's golden files, the RTP and RTCP corpora from the golden
# packets in crates/rtp/tests/data, the WAV corpus from the shortest default prompts of
# crates/media/prompts.
set -euo pipefail

seconds="${1:-60}"
root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
shared="$root/../shared/testdata/sip/rfc4475"
sdp_data="$root/crates/sdp/tests/data"
rtp_data="$root/crates/rtp/tests/data"
targets=(parse_message frame_stream parse_sdp parse_rtp parse_rtcp parse_stun parse_bencode decode_wav parse_tariff parse_message_summary)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

cd "$root/fuzz"

# Seeds: each RFC 4475 message as a datagram, and twice as a stream: read one byte at a
# time (first byte 0) and in 16-byte reads (first byte 1, then the little-endian read size
# minus one).
mkdir -p corpus/parse_message corpus/frame_stream
if compgen -G "$shared/*.dat" >/dev/null; then
    for f in "$shared"/*.dat; do
        name="$(basename "$f" .dat)"
        cp "$f" "corpus/parse_message/$name"
        { printf '\x00'; cat "$f"; } >"corpus/frame_stream/$name"
        { printf '\x01\x0f\x00'; cat "$f"; } >"corpus/frame_stream/$name.split16"
    done
else
    echo "fuzz.sh: no seeds at $shared; starting from an empty corpus" >&2
fi

# SDP seeds: the golden descriptions of the sdp crate, valid and malformed, as bodies.
mkdir -p corpus/parse_sdp
for f in "$sdp_data"/*.sdp "$sdp_data"/*/*.sdp; do
    [ -e "$f" ] || continue
    dir="$(basename "$(dirname "$f")")"
    cp "$f" "corpus/parse_sdp/$dir-$(basename "$f" .sdp)"
done

# RTP and RTCP seeds: the golden packets of the rtp crate's tests.
mkdir -p corpus/parse_rtp corpus/parse_rtcp
for kind in rtp rtcp; do
    if compgen -G "$rtp_data/$kind/*.bin" >/dev/null; then
        cp "$rtp_data/$kind"/*.bin "corpus/parse_$kind/"
    fi
done

# STUN seeds: the RFC 5769 sample messages of the stun crate's tests.
mkdir -p corpus/parse_stun
if compgen -G "$root/crates/stun/tests/data/*.bin" >/dev/null; then
    cp "$root/crates/stun/tests/data"/*.bin corpus/parse_stun/
fi
# NG seeds (relay): a ping, an offer with flags and SDP, a query, as rtpengine's clients
# send them.
mkdir -p corpus/parse_bencode
printf '1 d7:command4:pinge' >corpus/parse_bencode/ping
printf '2 d7:command5:offer7:call-id1:c8:from-tag1:a5:flagsl13:trust-addresse13:received-froml3:IP48:10.0.0.9e3:sdp85:v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 8000 RTP/AVP 0\r\ne' >corpus/parse_bencode/offer
printf '3 d7:call-id1:c7:command5:querye' >corpus/parse_bencode/query

# WAV seeds (media): the digit prompts, the shortest files of the default set.
mkdir -p corpus/decode_wav
if compgen -G "$root/crates/media/prompts/digit-*.wav" >/dev/null; then
    cp "$root/crates/media/prompts"/digit-*.wav corpus/decode_wav/
fi

# Tariff seeds (billing): a native CSV, and a CGRateS plan (its six files joined by NUL
# bytes, as the target splits them).
mkdir -p corpus/parse_tariff
printf 'prefix,description,connect_fee,rate_per_min,initial,increment\n46,Sweden,0,0.10,60,60\n468,Stockholm,0.05,0.40,30,6\n' \
    >corpus/parse_tariff/native
printf '#Id,Prefix\nDST_SE,+46\n\0#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\nRT_1,0,0.6,60s,1s,0s\n\0#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\nDR_1,DST_SE,RT_1,*up,4,0,\n\0#Tag,Years,Months,MonthDays,WeekDays,Time\nPEAK,*any,*any,*any,1;2;3;4;5,08:00:00\n\0#Id,DestinationRatesId,TimingTag,Weight\nRP_1,DR_1,*any,10\n\0#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\nexample.com,call,*any,2026-01-01T00:00:00Z,RP_1,\n' \
    >corpus/parse_tariff/cgrates

# Message-summary seeds (the phone's MWI body): RFC 3842's example, and ours.
mkdir -p corpus/parse_message_summary
printf 'Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\nVoice-Message: 4/8 (1/2)\r\n\r\nTo: <alice@atlanta.example.com>\r\n' \
    >corpus/parse_message_summary/rfc3842
printf 'Messages-Waiting: no\r\nMessage-Account: sip:voicemail@example.com\r\nVoice-Message: 0/3\r\n' \
    >corpus/parse_message_summary/itsp

export RUSTC_BOOTSTRAP=1
status=0
for t in "${targets[@]}"; do
    echo "fuzz.sh: $t for ${seconds}s"
    if ! cargo fuzz run --sanitizer none "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1; then
        echo "fuzz.sh: $t FAILED; reproducer in fuzz/artifacts/$t/" >&2
        status=1
    fi
done
exit "$status"
