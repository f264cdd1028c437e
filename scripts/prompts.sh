#!/usr/bin/env bash
# Generates the default English prompt set of the media services into crates/media/prompts/
# with Debian's espeak-ng (speech) and sox (conversion): one WAV per prompt, 8 kHz, mono,
# 16-bit PCM, leading and trailing silence trimmed (so digits concatenate tightly),
# peak-normalised to -3 dBFS. The files are committed; after changing a text below, run this
# again and commit the result. The names are also listed in crates/media/src/prompts/names.rs
# (a test checks that both agree).
#
# Needs: espeak-ng and sox (`apt-get install -y espeak-ng sox`). sox converts without dither
# (-D) so the same espeak-ng gives the same files. The operator replaces any prompt by putting
# a WAV of the same name in the prompts directory of the server (any rate, channels, depth).
set -euo pipefail

root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
out="$root/crates/media/prompts"
voice="${PROMPTS_VOICE:-en-us}"
speed="${PROMPTS_SPEED:-150}"

for tool in espeak-ng sox; do
    if ! command -v "$tool" >/dev/null; then
        echo "prompts.sh: $tool is missing; install it with: apt-get install -y espeak-ng sox" >&2
        exit 1
    fi
done

# name|text. Keep names in step with crates/media/src/prompts/names.rs.
prompts=(
    "vm-greeting|The person you called is not available. Please leave a message after the tone. Press pound when you are done."
    "vm-mailbox-of|You have reached the mailbox of"
    "vm-leave-message|Please leave a message after the tone. Press pound when you are done."
    "not-available|The person you called is not available. Please try again later."
    "not-in-service|The number you have dialed is not in service. Please check the number and try again."
    "insufficient-credit|Your credit is not sufficient for this call."
    "vm-you-have|You have"
    "vm-new-message|new message."
    "vm-new-messages|new messages."
    "vm-no-new-messages|You have no new messages."
    "vm-message-saved|Message saved."
    "vm-message-deleted|Message deleted."
    "vm-menu|1 replay, 2 save, 3 delete, 4 previous, 6 next, 0 options, star start again, pound hang up."
    "vm-message|Message"
    "vm-from|from"
    "vm-no-more-messages|No more messages."
    "vm-options|Press 1 to record your personal greeting, 2 to change your PIN, or star to go back."
    "vm-record-greeting|Record your greeting after the tone, then press pound."
    "vm-greeting-saved|Your greeting has been saved."
    "vm-new-pin|Please enter your new PIN, four to ten digits, followed by the pound key."
    "vm-new-pin-again|Please enter your new PIN again, followed by the pound key."
    "vm-pin-changed|Your PIN has been changed."
    "vm-pin-mismatch|The PINs do not match. Your PIN has not been changed."
    "vm-enter-mailbox|Please enter your mailbox number, followed by the pound key."
    "enter-pin|Please enter your PIN, followed by the pound key."
    "wrong-pin|That PIN is not correct."
    "invalid-option|That is not a valid option."
    "goodbye|Goodbye."
    "conf-first|You are the first participant in this conference."
    "vm-received|received"
    "vm-today|today"
    "vm-yesterday|yesterday"
    "vm-at|at"
    "day-1|Monday"
    "day-2|Tuesday"
    "day-3|Wednesday"
    "day-4|Thursday"
    "day-5|Friday"
    "day-6|Saturday"
    "day-7|Sunday"
    "number-10|ten"
    "number-11|eleven"
    "number-12|twelve"
    "number-13|thirteen"
    "number-14|fourteen"
    "number-15|fifteen"
    "number-16|sixteen"
    "number-17|seventeen"
    "number-18|eighteen"
    "number-19|nineteen"
    "number-20|twenty"
    "number-30|thirty"
    "number-40|forty"
    "number-50|fifty"
    "number-oh|oh"
    "number-hundred|hundred"
    "ivr-main|Press 1 for our staff, 0 to hang up."
    "ivr-transferring|Please hold."
    "ivr-transfer-failed|Sorry, the transfer failed."
    "ivr-no-transfer|Your phone cannot be transferred."
    "digit-0|zero"
    "digit-1|one"
    "digit-2|two"
    "digit-3|three"
    "digit-4|four"
    "digit-5|five"
    "digit-6|six"
    "digit-7|seven"
    "digit-8|eight"
    "digit-9|nine"
)

mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for entry in "${prompts[@]}"; do
    name="${entry%%|*}"
    text="${entry#*|}"
    espeak-ng -v "$voice" -s "$speed" -w "$tmp/$name.wav" "$text"
    sox -V1 -D "$tmp/$name.wav" -r 8000 -c 1 -b 16 -e signed-integer "$out/$name.wav" \
        silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse norm -3
    echo "$name: $(soxi -D "$out/$name.wav") s"
done
du -ch "$out"/*.wav | tail -1
