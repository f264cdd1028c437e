"""An SMTP server for the e-mail tests (crates/itsp/tests/mail.rs): Debian's aiosmtpd
(python3-aiosmtpd) on 127.0.0.1:PORT, no TLS, no authentication. Prints one JSON line
when it listens ({"ready": PORT}) and one for each message received, parsed by Python's
email package: envelope sender and recipients, To, Subject, the text body and each
attachment (content type, file name, size, its first 12 bytes in hex).

Run: /usr/bin/python3 smtp_sink.py PORT
"""

import email
import email.policy
import json
import signal
import sys

from aiosmtpd.controller import Controller


class Sink:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        attachments = []
        for part in msg.iter_attachments():
            data = part.get_payload(decode=True) or b""
            attachments.append(
                {
                    "content_type": part.get_content_type(),
                    "filename": part.get_filename(),
                    "size": len(data),
                    "head": data[:12].hex(),
                }
            )
        print(
            json.dumps(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_to": envelope.rcpt_tos,
                    "to": str(msg["to"]),
                    "subject": str(msg["subject"]),
                    "body": text.get_content() if text is not None else "",
                    "attachments": attachments,
                }
            ),
            flush=True,
        )
        return "250 OK"


def main():
    port = int(sys.argv[1])
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    print(json.dumps({"ready": port}), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


if __name__ == "__main__":
    main()
